//! The JSON API under `/api/v1`, and its OpenAPI 3 document at
//! `/api/openapi.json`, generated from the handlers' annotations.

pub mod audit;
mod auth;
pub mod calendar;
pub mod complaints;
pub mod customers;
pub mod import;
pub mod json;
pub mod knowledge;
pub mod kpis;
pub mod maintenance;
pub mod needs;
pub mod notifications;
mod openapi_errors;
pub mod outreach;
pub mod privacy;
pub mod relationship;
pub mod rule_tags;
pub mod segments;
pub mod ticket_settings;
pub mod tickets;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::Problem;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Guanxi API",
        description = "Customer service and customer-relationship maintenance. Authenticate with `POST /api/v1/auth/token` and send `Authorization: Bearer <token>`. Errors are RFC 9457 problem documents; field errors list each refused field. Messages follow `Accept-Language` (zh-CN or en)."
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Tokens, two-factor codes, the caller's own sessions (SPEC S1)"),
        (name = "customers", description = "客户档案 Customer records (SPEC C1)"),
        (name = "complaints", description = "投诉处理 Complaint handling (SPEC P1–P7)"),
        (name = "admin", description = "Users and groups (SPEC S1)"),
        (name = "segments", description = "客户分层与流失预警 Segmentation and churn warning (SPEC G)"),
        (name = "maintenance", description = "客户关系维护 Relationship maintenance plans: tasks, preparation, records, execution rate (SPEC M1, M2, M4–M6)"),
        (name = "calendar", description = "工作日历 Business calendar: working days, statutory holidays and 调休, festivals, working hours (SPEC M3)"),
        (name = "tickets", description = "工单与服务流程 Tickets: lifecycle, SLA on business time, routing, escalation paths (SPEC T)"),
        (name = "knowledge", description = "知识库与话术库 Knowledge base and script library (SPEC K1–K3)"),
        (name = "import", description = "导入 Import of customers, contacts and orders from CSV or Excel (SPEC C9)"),
        (name = "outreach", description = "触达与满意度 Message templates, the outbox (email, webhooks), surveys (SPEC O1–O4)"),
        (name = "reports", description = "效果监控与报表 KPIs with their definitions and targets (SPEC R1)"),
        (name = "system", description = "Health")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Health check: the process is up and the database answers.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "healthy", body = String)))]
async fn healthz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<&'static str, crate::error::AppError> {
    state.db.read(|c| c.scalar::<i64>("SELECT 1", &[])).await?;
    Ok("ok")
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    router_parts().2
}

/// The routes that take file uploads: the application gives them their own
/// body limit and timeout (see `app` in lib.rs).
pub fn upload_router() -> Router<AppState> {
    router_parts().1
}

/// The ticket attachment upload: its own body limit (`GUANXI_ATTACHMENT_MAX_MB`).
pub fn attachment_router() -> Router<AppState> {
    attachment_parts().0
}

fn attachment_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::new().routes(routes!(tickets::upload_attachments)).split_for_parts()
}

/// The API routes, the upload routes, and the OpenAPI document of both.
fn router_parts() -> (Router<AppState>, Router<AppState>, utoipa::openapi::OpenApi) {
    let (uploads, upload_doc) = OpenApiRouter::new().routes(routes!(import::import_file)).split_for_parts();
    let (router, mut doc) = main_parts();
    doc.merge(upload_doc);
    doc.merge(attachment_parts().1);
    openapi_errors::document(&mut doc);
    crate::authz::document(&mut doc);
    (router, uploads, doc)
}

fn main_parts() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(kpis::list))
        .routes(routes!(kpis::get_one))
        .routes(routes!(kpis::list_targets, kpis::put_target))
        .routes(routes!(kpis::delete_target))
        .routes(routes!(kpis::list_actions, kpis::create_action))
        .routes(routes!(kpis::get_action, kpis::update_action, kpis::delete_action))
        .routes(routes!(auth::create_token))
        .routes(routes!(auth::me))
        .routes(routes!(auth::my_sessions))
        .routes(routes!(auth::end_my_session))
        .routes(routes!(auth::revoke_my_token))
        .routes(routes!(notifications::list))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(notifications::mark_all_read))
        .routes(routes!(auth::security_events))
        .routes(routes!(customers::list, customers::create))
        .routes(routes!(import::export_customers))
        .routes(routes!(customers::get_one, customers::update, customers::delete))
        .routes(routes!(customers::reveal))
        .routes(routes!(privacy::personal_data))
        .routes(routes!(privacy::anonymise))
        .routes(routes!(relationship::list_contacts, relationship::create_contact))
        .routes(routes!(relationship::update_contact, relationship::delete_contact))
        .routes(routes!(relationship::reveal_contact))
        .routes(routes!(relationship::list_orders, relationship::create_order))
        .routes(routes!(relationship::ingest_events))
        .routes(routes!(relationship::create_communication))
        .routes(routes!(relationship::my_action_items))
        .routes(routes!(relationship::set_action_status))
        .routes(routes!(relationship::timeline))
        .routes(routes!(segments::customer_segment))
        .routes(routes!(segments::overview))
        .routes(routes!(segments::churn_risk))
        .routes(routes!(segments::preview))
        .routes(routes!(segments::list, segments::create))
        .routes(routes!(segments::get_one, segments::update, segments::delete))
        .routes(routes!(rule_tags::list, rule_tags::create))
        .routes(routes!(rule_tags::get_one, rule_tags::update, rule_tags::delete))
        .routes(routes!(segments::recompute))
        .routes(routes!(segments::record_churn_reason))
        .routes(routes!(segments::churn_reasons))
        .routes(routes!(maintenance::tasks))
        .routes(routes!(maintenance::task))
        .routes(routes!(maintenance::record))
        .routes(routes!(maintenance::vocabularies))
        .routes(routes!(maintenance::execution))
        .routes(routes!(maintenance::generate))
        .routes(routes!(maintenance::rules, maintenance::save_rules))
        .routes(routes!(calendar::days))
        .routes(routes!(calendar::set_override, calendar::clear_override))
        .routes(routes!(calendar::schedules))
        .routes(routes!(calendar::save_schedule))
        .routes(routes!(complaints::list, complaints::register))
        .routes(routes!(complaints::export))
        .routes(routes!(complaints::monthly_review))
        .routes(routes!(complaints::get_one))
        .routes(routes!(complaints::step))
        .routes(routes!(complaints::set_urgency))
        .routes(routes!(complaints::get_settings, complaints::put_settings))
        .routes(routes!(complaints::get_compensation, complaints::put_compensation))
        .routes(routes!(tickets::queue, tickets::create))
        .routes(routes!(tickets::get_one))
        .routes(routes!(tickets::act))
        .routes(routes!(tickets::add_message))
        .routes(routes!(tickets::download_attachment))
        .routes(routes!(tickets::revisit))
        .routes(routes!(tickets::assign))
        .routes(routes!(tickets::escalate))
        .routes(routes!(needs::get_need, needs::put_need))
        .routes(routes!(needs::customer_told))
        .routes(routes!(needs::report))
        .routes(routes!(needs::get_departments, needs::put_departments))
        .routes(routes!(tickets::my_availability, tickets::set_availability))
        .routes(routes!(ticket_settings::sla, ticket_settings::save_sla))
        .routes(routes!(ticket_settings::rules, ticket_settings::create_rule))
        .routes(routes!(ticket_settings::update_rule, ticket_settings::delete_rule))
        .routes(routes!(ticket_settings::paths, ticket_settings::create_path))
        .routes(routes!(ticket_settings::update_path, ticket_settings::delete_path))
        .routes(routes!(ticket_settings::groups))
        .routes(routes!(ticket_settings::save_group))
        .routes(routes!(ticket_settings::set_default_group))
        .routes(routes!(knowledge::list, knowledge::create))
        .routes(routes!(knowledge::get_one, knowledge::update))
        .routes(routes!(knowledge::search))
        .routes(routes!(knowledge::suggested))
        .routes(routes!(knowledge::ticket_scripts))
        .routes(routes!(knowledge::list_scripts, knowledge::create_script))
        .routes(routes!(knowledge::update_script))
        .routes(routes!(knowledge::use_script))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::update))
        .routes(routes!(users::list_groups, users::create_group))
        .routes(routes!(users::delete_group))
        .routes(routes!(audit::search))
        .routes(routes!(audit::export))
        .routes(routes!(outreach::send, outreach::list))
        .routes(routes!(outreach::acknowledge))
        .routes(routes!(outreach::templates, outreach::create_template))
        .routes(routes!(outreach::update_template))
        .routes(routes!(outreach::get_settings, outreach::save_settings))
        .routes(routes!(outreach::send_survey))
        .routes(routes!(outreach::consents, outreach::record_consent))
        .routes(routes!(outreach::appointment, outreach::schedule_appointment, outreach::cancel_appointment))
        .split_for_parts()
}

pub fn router() -> Router<AppState> {
    let (router, _, doc) = router_parts();
    let doc = Arc::new(doc);
    router.route(
        "/api/openapi.json",
        get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc.as_ref().clone()) }
        }),
    )
}
