-- Keys bound to a client certificate (mutual TLS, issue 7): the certificate's fingerprint,
-- for operators to see which certificate a key stands for. The key's prefix and secret hash
-- are derived from the certificate (`tsunagu_runtime::auth::certificate_key`), so the one
-- certificate has at most one key, ever (`prefix` is unique): a revoked certificate key is not
-- bound again; a new certificate is.
ALTER TABLE api_key ADD COLUMN client_certificate_sha256 TEXT;
