-- Issue 6: not every notification is about a need. A resource overdue for verification
-- (`resource.verification_overdue`) reaches the provider's and the coordinators' inboxes
-- with no need behind it.
ALTER TABLE notification ALTER COLUMN need_id DROP NOT NULL;
