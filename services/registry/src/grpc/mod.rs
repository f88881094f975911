//! The registry's gRPC edge: converts proto ↔ domain and nothing else. Areas and
//! organisations are handled here; resources and the taxonomy in their own modules.

mod categories;
pub(crate) mod exchange;
mod organizations;
mod resources;

use std::sync::Arc;
use tracing::Instrument;

use sqlx::PgPool;
use tokio::sync::Notify;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tsunagu_proto::common::v1::GeoPoint;
use tsunagu_proto::registry::v1 as pb;
use tsunagu_proto::registry::v1::registry_service_server::{RegistryService, RegistryServiceServer};
use tsunagu_runtime::auth::principal_of;
use tsunagu_runtime::error::{Violations, both};
use tsunagu_runtime::grpc::{Page, parse_id, timestamp};
use tsunagu_runtime::tenant::parse_official_csv;
use tsunagu_runtime::{MunicipalityCode, ServiceError};

use crate::area_edit::{self, AreaEdit};
use crate::domain::{AreaInput, AreaKind, NewArea};
use crate::field_mask::FieldMask;
use crate::geo::AreaPlace;
use crate::history::{self, ChangeAuthor, EntityKind};
use crate::organization::store as organization_store;
use crate::resource::store as resource_store;
use crate::store::{self, AreaRow};
use crate::{authz, freshness, official_import};

/// Sheets travel inside gRPC messages: a municipality's 20,000-row CSV is about 5 MiB, over
/// tonic's default 4 MiB, and its CSV export larger still.
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

pub fn routes(pool: PgPool, outbox_wake: Arc<Notify>) -> Routes {
    let server = RegistryServiceServer::new(RegistryApi {
        pool: pool.clone(),
        outbox_wake,
    })
    .max_decoding_message_size(MAX_REQUEST_BYTES)
    .max_encoding_message_size(MAX_RESPONSE_BYTES);
    Routes::new(crate::write_audit::Guarded::new(pool, server))
}

struct RegistryApi {
    pool: PgPool,
    outbox_wake: Arc<Notify>,
}

#[tonic::async_trait]
impl RegistryService for RegistryApi {
    async fn create_area(
        &self,
        request: Request<pb::CreateAreaRequest>,
    ) -> Result<Response<pb::CreateAreaResponse>, Status> {
        let caller = principal_of(&request)?;
        {
            let given = request.get_ref();
            let official_kind = matches!(
                pb::AreaKind::try_from(given.kind),
                Ok(pb::AreaKind::Prefecture | pb::AreaKind::Municipality | pb::AreaKind::Ward)
            );
            if official_kind {
                authz::official(&caller, Some(&given.code))?;
            } else {
                authz::creates_area_under(&self.pool, &caller, &given.parent_id).await?;
            }
        }
        let request = request.into_inner();
        let kind = pb::AreaKind::try_from(request.kind)
            .ok()
            .and_then(area_kind_from_proto);
        let new = NewArea::parse(AreaInput {
            kind,
            code: &request.code,
            name: &request.name,
            name_kana: &request.name_kana,
            parent_id: &request.parent_id,
        });
        let location = request.location.map(|point| (point.latitude, point.longitude));
        let place = AreaPlace::parse(location, &request.boundary_geojson);
        let (new, place) = both(new, place)?;
        let area = store::create_area(&self.pool, new, place).await?;
        self.outbox_wake.notify_one();
        tracing::info!(area_id = %area.id, kind = area.kind, municipality_code = area.municipality_code, "area created");
        Ok(Response::new(pb::CreateAreaResponse {
            area: Some(area_to_proto(area)),
        }))
    }

    async fn get_area(
        &self,
        request: Request<pb::GetAreaRequest>,
    ) -> Result<Response<pb::GetAreaResponse>, Status> {
        let request = request.into_inner();
        let area = match (request.id.trim(), request.code.trim()) {
            (id, "") if !id.is_empty() => store::get_area(&self.pool, parse_id("id", id)?).await?,
            ("", code) if !code.is_empty() => {
                let code = MunicipalityCode::parse(code)
                    .map_err(|error| ServiceError::invalid("code", error.to_string()))?;
                store::get_area_by_code(&self.pool, code.as_str()).await?
            }
            _ => {
                return Err(ServiceError::invalid(
                    "id",
                    "id と code のどちらか一方を指定してください / give exactly one of id and code",
                )
                .into());
            }
        };
        Ok(Response::new(pb::GetAreaResponse {
            area: Some(area_to_proto(area)),
        }))
    }

    async fn update_area(
        &self,
        request: Request<pb::UpdateAreaRequest>,
    ) -> Result<Response<pb::UpdateAreaResponse>, Status> {
        let caller = principal_of(&request)?;
        let id = request
            .get_ref()
            .area
            .as_ref()
            .map(|area| area.id.clone())
            .unwrap_or_default();
        authz::writes_object(&self.pool, &caller, authz::Table::Area, &id, false).await?;
        let request = request.into_inner();
        let Some(given) = request.area else {
            return Err(ServiceError::invalid("area", "area を指定してください / area is required").into());
        };
        let paths = request.update_mask.map(|mask| mask.paths).unwrap_or_default();
        let mut violations = Violations::new();
        let id = violations.absorb(parse_id("area.id", &given.id));
        let mask = violations.absorb(FieldMask::parse(&paths, area_edit::UPDATABLE));
        violations.into_result()?;
        let edit = AreaEdit {
            name: given.name,
            name_kana: given.name_kana,
            location: given.location.map(|point| (point.latitude, point.longitude)),
            boundary_geojson: given.boundary_geojson,
            parent_id: given.parent_id,
        };
        let changed_by = text_or(&request.changed_by, "(不明)");
        let reason = tsunagu_runtime::text::nfkc(&request.reason).trim().to_string();
        let author = ChangeAuthor {
            changed_by: &changed_by,
            reason: &reason,
        };
        let area = area_edit::update(
            &self.pool,
            id.expect("checked"),
            edit,
            &mask.expect("checked"),
            request.expected_version,
            author,
        )
        .await
        .map_err(|error| error.prefixed("area."))?;
        self.outbox_wake.notify_one();
        tracing::info!(area_id = %area.id, version = area.version, "area updated");
        Ok(Response::new(pb::UpdateAreaResponse {
            area: Some(area_to_proto(area)),
        }))
    }

    async fn delete_area(
        &self,
        request: Request<pb::DeleteAreaRequest>,
    ) -> Result<Response<pb::DeleteAreaResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_object(
            &self.pool,
            &caller,
            authz::Table::Area,
            &request.get_ref().id,
            false,
        )
        .await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = violations.absorb(parse_id("id", &request.id));
        let reason = tsunagu_runtime::text::normalised_non_empty(&request.reason);
        if reason.is_none() {
            violations.add("reason", "削除の理由を入力してください / reason is required");
        }
        violations.into_result()?;
        let deleted_by = text_or(&request.deleted_by, "(不明)");
        let reason = reason.expect("checked");
        let author = ChangeAuthor {
            changed_by: &deleted_by,
            reason: &reason,
        };
        let area =
            area_edit::delete(&self.pool, id.expect("checked"), request.expected_version, author).await?;
        self.outbox_wake.notify_one();
        tracing::info!(area_id = %area.id, "area deleted");
        Ok(Response::new(pb::DeleteAreaResponse {
            area: Some(area_to_proto(area)),
        }))
    }

    async fn batch_get_areas(
        &self,
        request: Request<pb::BatchGetAreasRequest>,
    ) -> Result<Response<pb::BatchGetAreasResponse>, Status> {
        let request = request.into_inner();
        let ids = crate::batch::parse_ids(&request.ids)?;
        let areas = area_edit::batch_get(&self.pool, &ids).await?;
        Ok(Response::new(pb::BatchGetAreasResponse {
            areas: areas.into_iter().map(area_to_proto).collect(),
        }))
    }

    async fn list_area_history(
        &self,
        request: Request<pb::ListAreaHistoryRequest>,
    ) -> Result<Response<pb::ListAreaHistoryResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = violations.absorb(parse_id("area_id", &request.area_id));
        let page = violations.absorb(Page::from_request(request.page));
        violations.into_result()?;
        let (id, page) = (id.expect("checked"), page.expect("checked"));
        store::get_area(&self.pool, id).await?;
        let rows = history::list(&self.pool, EntityKind::Area, id, page).await?;
        let next_page_token = page.next_token_after(&rows, |row| row.id);
        Ok(Response::new(pb::ListAreaHistoryResponse {
            changes: rows.into_iter().map(resources::change_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn list_areas(
        &self,
        request: Request<pb::ListAreasRequest>,
    ) -> Result<Response<pb::ListAreasResponse>, Status> {
        let request = request.into_inner();
        let parent_id = parse_id("parent_id", &request.parent_id)?;
        let page = Page::from_request(request.page)?;
        let rows = store::list_child_areas(&self.pool, parent_id, page).await?;
        let next_page_token = page.next_token_after(&rows, |row| row.id);
        Ok(Response::new(pb::ListAreasResponse {
            areas: rows.into_iter().map(area_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn import_official_areas(
        &self,
        request: Request<pb::ImportOfficialAreasRequest>,
    ) -> Result<Response<pb::ImportOfficialAreasResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::official(&caller, None)?;
        let request = request.into_inner();
        let parsed =
            parse_official_csv(&request.csv).map_err(|reason| ServiceError::invalid("csv", reason))?;
        let report = official_import::import_official(&self.pool, parsed, request.dry_run).await?;
        if !request.dry_run {
            self.outbox_wake.notify_one();
        }
        tracing::info!(
            created = report.created,
            updated = report.updated,
            unchanged = report.unchanged,
            rejected = report.rejected.len(),
            dry_run = request.dry_run,
            "official areas imported"
        );
        Ok(Response::new(pb::ImportOfficialAreasResponse {
            created: report.created,
            updated: report.updated,
            unchanged: report.unchanged,
            rejected: report
                .rejected
                .into_iter()
                .map(|problem| pb::RowProblem {
                    row: u32::try_from(problem.row).unwrap_or(u32::MAX),
                    column: problem.column,
                    reason: problem.reason,
                })
                .collect(),
            dry_run: request.dry_run,
        }))
    }

    async fn list_ancestors(
        &self,
        request: Request<pb::ListAncestorsRequest>,
    ) -> Result<Response<pb::ListAncestorsResponse>, Status> {
        let id = parse_id("area_id", &request.get_ref().area_id)?;
        let ancestors = store::list_ancestors(&self.pool, id).await?;
        Ok(Response::new(pb::ListAncestorsResponse {
            ancestors: ancestors.into_iter().map(area_to_proto).collect(),
        }))
    }

    async fn list_descendants(
        &self,
        request: Request<pb::ListDescendantsRequest>,
    ) -> Result<Response<pb::ListDescendantsResponse>, Status> {
        let request = request.into_inner();
        let id = parse_id("area_id", &request.area_id)?;
        let page = Page::from_request(request.page)?;
        let rows = store::list_descendants(&self.pool, id, page).await?;
        let next_page_token = page.next_token_after(&rows, |row| row.id);
        Ok(Response::new(pb::ListDescendantsResponse {
            areas: rows.into_iter().map(area_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn check_area_contains(
        &self,
        request: Request<pb::CheckAreaContainsRequest>,
    ) -> Result<Response<pb::CheckAreaContainsResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let container_id = violations.absorb(parse_id("container_id", &request.container_id));
        let area_id = violations.absorb(parse_id("area_id", &request.area_id));
        violations.into_result()?;
        let contains = store::area_contains(
            &self.pool,
            container_id.expect("checked"),
            area_id.expect("checked"),
        )
        .await?;
        Ok(Response::new(pb::CheckAreaContainsResponse { contains }))
    }

    async fn search_areas(
        &self,
        request: Request<pb::SearchAreasRequest>,
    ) -> Result<Response<pb::SearchAreasResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let query = request.query.trim();
        if query.is_empty() {
            violations.add(
                "query",
                "検索する名称または読みを入力してください / query is required",
            );
        } else if query.chars().count() > MAX_SEARCH_CHARS {
            violations.add(
                "query",
                format!("検索語は{MAX_SEARCH_CHARS}文字以内です / query is too long"),
            );
        }
        let municipality_code = match request.municipality_code.trim() {
            "" => None,
            code => violations.check("municipality_code", MunicipalityCode::parse_known(code)),
        };
        let kind = match pb::AreaKind::try_from(request.kind) {
            Ok(kind) => area_kind_from_proto(kind),
            Err(_) => {
                violations.add("kind", "区域の種類が不正です / unknown area kind");
                None
            }
        };
        let page = violations.absorb(Page::from_request(request.page));
        violations.into_result()?;
        let search = store::AreaSearch {
            query,
            municipality_code: municipality_code.as_ref().map(MunicipalityCode::as_str),
            kind,
        };
        let page = page.expect("checked");
        let rows = store::search_areas(&self.pool, search, page).await?;
        let next_page_token = page.next_token_after(&rows, |row| row.id);
        Ok(Response::new(pb::SearchAreasResponse {
            areas: rows.into_iter().map(area_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::CreateOrganizationResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_in(&caller, &request.get_ref().municipality_code)?;
        let organization = organizations::create(&self.pool, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(pb::CreateOrganizationResponse {
            organization: Some(organization),
        }))
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::GetOrganizationResponse>, Status> {
        let id = parse_id("id", &request.get_ref().id)?;
        let span = tsunagu_runtime::db::span("registry", "SELECT", "organization");
        span.record("tsunagu.organization_id", id.to_string());
        let organization = organization_store::get(&self.pool, id).instrument(span).await?;
        Ok(Response::new(pb::GetOrganizationResponse {
            organization: Some(organizations::to_proto(organization)),
        }))
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> Result<Response<pb::UpdateOrganizationResponse>, Status> {
        let caller = principal_of(&request)?;
        let id = request
            .get_ref()
            .organization
            .as_ref()
            .map(|o| o.id.clone())
            .unwrap_or_default();
        authz::writes_object(&self.pool, &caller, authz::Table::Organization, &id, true).await?;
        let organization = organizations::update(&self.pool, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(pb::UpdateOrganizationResponse {
            organization: Some(organization),
        }))
    }

    async fn delete_organization(
        &self,
        request: Request<pb::DeleteOrganizationRequest>,
    ) -> Result<Response<pb::DeleteOrganizationResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_object(
            &self.pool,
            &caller,
            authz::Table::Organization,
            &request.get_ref().id,
            false,
        )
        .await?;
        let organization = organizations::delete(&self.pool, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(pb::DeleteOrganizationResponse {
            organization: Some(organization),
        }))
    }

    async fn list_organizations(
        &self,
        request: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        Ok(Response::new(
            organizations::list(&self.pool, request.into_inner()).await?,
        ))
    }

    async fn batch_get_organizations(
        &self,
        request: Request<pb::BatchGetOrganizationsRequest>,
    ) -> Result<Response<pb::BatchGetOrganizationsResponse>, Status> {
        let organizations = organizations::batch_get(&self.pool, request.into_inner()).await?;
        Ok(Response::new(pb::BatchGetOrganizationsResponse { organizations }))
    }

    async fn list_organization_history(
        &self,
        request: Request<pb::ListOrganizationHistoryRequest>,
    ) -> Result<Response<pb::ListOrganizationHistoryResponse>, Status> {
        Ok(Response::new(
            organizations::history(&self.pool, request.into_inner()).await?,
        ))
    }

    async fn create_resource(
        &self,
        request: Request<pb::CreateResourceRequest>,
    ) -> Result<Response<pb::CreateResourceResponse>, Status> {
        let caller = principal_of(&request)?;
        if let Some(resource) = &request.get_ref().resource {
            authz::creates_resource(&caller, &resource.municipality_code, &resource.organization_id)?;
        }
        let resource = resources::create(&self.pool, &caller, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(pb::CreateResourceResponse {
            resource: Some(resource),
        }))
    }

    async fn get_resource(
        &self,
        request: Request<pb::GetResourceRequest>,
    ) -> Result<Response<pb::GetResourceResponse>, Status> {
        let caller = principal_of(&request)?;
        let resource = resources::get(&self.pool, &caller, request.into_inner()).await?;
        Ok(Response::new(pb::GetResourceResponse {
            resource: Some(resource),
        }))
    }

    async fn list_resources(
        &self,
        request: Request<pb::ListResourcesRequest>,
    ) -> Result<Response<pb::ListResourcesResponse>, Status> {
        let caller = principal_of(&request)?;
        Ok(Response::new(
            resources::list(&self.pool, &caller, request.into_inner()).await?,
        ))
    }

    async fn update_resource(
        &self,
        request: Request<pb::UpdateResourceRequest>,
    ) -> Result<Response<pb::UpdateResourceResponse>, Status> {
        let caller = principal_of(&request)?;
        let id = request
            .get_ref()
            .resource
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_default();
        authz::writes_object(&self.pool, &caller, authz::Table::Resource, &id, true).await?;
        let resource = resources::update(&self.pool, &caller, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(pb::UpdateResourceResponse {
            resource: Some(resource),
        }))
    }

    async fn delete_resource(
        &self,
        request: Request<pb::DeleteResourceRequest>,
    ) -> Result<Response<pb::DeleteResourceResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_object(
            &self.pool,
            &caller,
            authz::Table::Resource,
            &request.get_ref().id,
            false,
        )
        .await?;
        let resource = resources::delete(&self.pool, &caller, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(pb::DeleteResourceResponse {
            resource: Some(resource),
        }))
    }

    async fn batch_get_resources(
        &self,
        request: Request<pb::BatchGetResourcesRequest>,
    ) -> Result<Response<pb::BatchGetResourcesResponse>, Status> {
        let caller = principal_of(&request)?;
        let resources = resources::batch_get(&self.pool, &caller, request.into_inner()).await?;
        Ok(Response::new(pb::BatchGetResourcesResponse { resources }))
    }

    async fn list_resource_history(
        &self,
        request: Request<pb::ListResourceHistoryRequest>,
    ) -> Result<Response<pb::ListResourceHistoryResponse>, Status> {
        let caller = principal_of(&request)?;
        Ok(Response::new(
            resources::history(&self.pool, &caller, request.into_inner()).await?,
        ))
    }

    async fn list_categories(
        &self,
        request: Request<pb::ListCategoriesRequest>,
    ) -> Result<Response<pb::ListCategoriesResponse>, Status> {
        let categories = categories::list(&self.pool, request.into_inner()).await?;
        Ok(Response::new(pb::ListCategoriesResponse { categories }))
    }

    async fn create_category(
        &self,
        request: Request<pb::CreateCategoryRequest>,
    ) -> Result<Response<pb::CreateCategoryResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_in(&caller, &request.get_ref().municipality_code)?;
        let category = categories::create(&self.pool, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(pb::CreateCategoryResponse {
            category: Some(category),
        }))
    }

    async fn import_resources(
        &self,
        request: Request<pb::ImportResourcesRequest>,
    ) -> Result<Response<pb::ImportResourcesResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_in(&caller, &request.get_ref().municipality_code)?;
        let response = exchange::import_resources(&self.pool, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(response))
    }

    async fn export_resources(
        &self,
        request: Request<pb::ExportResourcesRequest>,
    ) -> Result<Response<pb::ExportResourcesResponse>, Status> {
        let caller = principal_of(&request)?;
        if request.get_ref().include_confidential {
            authz::writes_in(&caller, &request.get_ref().municipality_code)?;
        }
        Ok(Response::new(
            exchange::export_resources(&self.pool, &caller, request.into_inner()).await?,
        ))
    }

    async fn import_care_providers(
        &self,
        request: Request<pb::ImportCareProvidersRequest>,
    ) -> Result<Response<pb::ImportCareProvidersResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_in(&caller, &request.get_ref().municipality_code)?;
        let response = exchange::import_care_providers(&self.pool, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(response))
    }

    async fn import_organizations(
        &self,
        request: Request<pb::ImportOrganizationsRequest>,
    ) -> Result<Response<pb::ImportOrganizationsResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_in(&caller, &request.get_ref().municipality_code)?;
        let response = exchange::import_organizations(&self.pool, request.into_inner()).await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(response))
    }

    async fn export_organizations(
        &self,
        request: Request<pb::ExportOrganizationsRequest>,
    ) -> Result<Response<pb::ExportOrganizationsResponse>, Status> {
        Ok(Response::new(
            exchange::export_organizations(&self.pool, request.into_inner()).await?,
        ))
    }

    async fn export_resources_hsds(
        &self,
        request: Request<pb::ExportResourcesHsdsRequest>,
    ) -> Result<Response<pb::ExportResourcesHsdsResponse>, Status> {
        let caller = principal_of(&request)?;
        Ok(Response::new(
            exchange::export_hsds(&self.pool, &caller, request.into_inner()).await?,
        ))
    }

    async fn verify_resource(
        &self,
        request: Request<pb::VerifyResourceRequest>,
    ) -> Result<Response<pb::VerifyResourceResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_object(
            &self.pool,
            &caller,
            authz::Table::Resource,
            &request.get_ref().resource_id,
            true,
        )
        .await?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let id = violations.absorb(parse_id("resource_id", &request.resource_id));
        let verified_by = tsunagu_runtime::text::normalised_non_empty(&request.verified_by);
        if verified_by.is_none() {
            violations.add(
                "verified_by",
                "確認した人を入力してください / who verified it is required",
            );
        }
        violations.into_result()?;
        let resource = resources::verify(
            &self.pool,
            &caller,
            id.expect("checked"),
            &verified_by.expect("checked"),
        )
        .await?;
        self.outbox_wake.notify_one();
        Ok(Response::new(pb::VerifyResourceResponse {
            resource: Some(resource),
        }))
    }

    async fn list_stale_resources(
        &self,
        request: Request<pb::ListStaleResourcesRequest>,
    ) -> Result<Response<pb::ListStaleResourcesResponse>, Status> {
        let caller = principal_of(&request)?;
        let request = request.into_inner();
        let mut violations = Violations::new();
        let municipality_code = violations.check(
            "municipality_code",
            MunicipalityCode::parse_known(&request.municipality_code),
        );
        let given_cutoff = request.not_verified_since.and_then(|at| {
            violations.check(
                "not_verified_since",
                chrono::DateTime::from_timestamp(at.seconds, at.nanos.max(0) as u32)
                    .ok_or("日時が範囲外です / time out of range"),
            )
        });
        let page = violations.absorb(Page::from_request(request.page));
        violations.into_result()?;
        let (municipality_code, page) = (municipality_code.expect("checked"), page.expect("checked"));
        let cutoff = match given_cutoff {
            Some(cutoff) => cutoff,
            None => freshness::get(&self.pool, municipality_code.as_str())
                .await?
                .cutoff(chrono::Utc::now()),
        };
        let records =
            resource_store::list_stale(&self.pool, municipality_code.as_str(), cutoff, page).await?;
        let next_page_token = page.next_token_after(&records, |record| record.id);
        Ok(Response::new(pb::ListStaleResourcesResponse {
            resources: resources::to_proto_many(&self.pool, records, resources::Reader::public(&caller))
                .await?,
            next_page_token,
            not_verified_since: Some(timestamp(cutoff)),
        }))
    }

    async fn get_freshness_period(
        &self,
        request: Request<pb::GetFreshnessPeriodRequest>,
    ) -> Result<Response<pb::GetFreshnessPeriodResponse>, Status> {
        let code = MunicipalityCode::parse_known(&request.get_ref().municipality_code)
            .map_err(|error| ServiceError::invalid("municipality_code", error.to_string()))?;
        let period = freshness::get(&self.pool, code.as_str()).await?;
        Ok(Response::new(pb::GetFreshnessPeriodResponse {
            period: Some(freshness_to_proto(code.as_str(), period)),
        }))
    }

    async fn set_freshness_period(
        &self,
        request: Request<pb::SetFreshnessPeriodRequest>,
    ) -> Result<Response<pb::SetFreshnessPeriodResponse>, Status> {
        let caller = principal_of(&request)?;
        authz::writes_in(&caller, &request.get_ref().municipality_code)?;
        let request = request.into_inner();
        let code = MunicipalityCode::parse_municipality(&request.municipality_code)
            .map_err(|error| ServiceError::invalid("municipality_code", error.to_string()))?;
        let changed_by = text_or(&request.changed_by, "(不明)");
        let period = freshness::set(&self.pool, code.as_str(), request.days, &changed_by).await?;
        tracing::info!(
            municipality_code = code.as_str(),
            days = period.days,
            "freshness period set"
        );
        Ok(Response::new(pb::SetFreshnessPeriodResponse {
            period: Some(freshness_to_proto(code.as_str(), period)),
        }))
    }
}

const MAX_SEARCH_CHARS: usize = 100;

fn freshness_to_proto(municipality_code: &str, period: freshness::FreshnessPeriod) -> pb::FreshnessPeriod {
    pb::FreshnessPeriod {
        municipality_code: municipality_code.to_string(),
        days: period.days,
        is_default: period.is_default,
    }
}

fn area_kind_from_proto(kind: pb::AreaKind) -> Option<AreaKind> {
    match kind {
        pb::AreaKind::Prefecture => Some(AreaKind::Prefecture),
        pb::AreaKind::Municipality => Some(AreaKind::Municipality),
        pb::AreaKind::Ward => Some(AreaKind::Ward),
        pb::AreaKind::DailyLifeArea => Some(AreaKind::DailyLifeArea),
        pb::AreaKind::SchoolDistrict => Some(AreaKind::SchoolDistrict),
        pb::AreaKind::DistrictCouncilArea => Some(AreaKind::DistrictCouncilArea),
        pb::AreaKind::NeighborhoodAssociation => Some(AreaKind::NeighborhoodAssociation),
        pb::AreaKind::Unspecified => None,
    }
}

fn area_to_proto(area: AreaRow) -> pb::Area {
    let kind = match AreaKind::parse(&area.kind) {
        Some(AreaKind::Prefecture) => pb::AreaKind::Prefecture,
        Some(AreaKind::Municipality) => pb::AreaKind::Municipality,
        Some(AreaKind::Ward) => pb::AreaKind::Ward,
        Some(AreaKind::DailyLifeArea) => pb::AreaKind::DailyLifeArea,
        Some(AreaKind::SchoolDistrict) => pb::AreaKind::SchoolDistrict,
        Some(AreaKind::DistrictCouncilArea) => pb::AreaKind::DistrictCouncilArea,
        Some(AreaKind::NeighborhoodAssociation) => pb::AreaKind::NeighborhoodAssociation,
        None => pb::AreaKind::Unspecified,
    };
    pb::Area {
        id: area.id.to_string(),
        kind: kind.into(),
        code: area.code.unwrap_or_default(),
        name: area.name,
        name_kana: area.name_kana,
        parent_id: area.parent_id.map(|id| id.to_string()).unwrap_or_default(),
        // Every 全国地方公共団体コード starts with its prefecture's JIS X 0401 code.
        prefecture_jis_code: area.municipality_code.get(..2).unwrap_or_default().to_string(),
        municipality_code: area.municipality_code,
        created_at: Some(timestamp(area.created_at)),
        location: area
            .latitude
            .zip(area.longitude)
            .map(|(latitude, longitude)| GeoPoint { latitude, longitude }),
        boundary_geojson: area
            .boundary
            .map(|boundary| boundary.to_string())
            .unwrap_or_default(),
        version: area.version,
        updated_at: Some(timestamp(area.updated_at)),
        deletion: area.deleted_at.map(|deleted_at| pb::Deletion {
            deleted_at: Some(timestamp(deleted_at)),
            reason: area.deleted_reason.unwrap_or_default(),
            deleted_by: area.deleted_by.unwrap_or_default(),
        }),
    }
}

/// NFKC-trimmed text, or `default` when blank (e.g. an unnamed editor in the history).
pub(crate) fn text_or(raw: &str, default: &str) -> String {
    tsunagu_runtime::text::normalised_non_empty(raw).unwrap_or_else(|| default.to_string())
}
