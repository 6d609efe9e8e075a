//! 工作台: the landing page after login.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_store::customers::{self, CustomerFilter};
use minijinja::context;

use super::{form_get, form_pairs, page_ctx, render};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::customer_scope;
use crate::state::AppState;

pub async fn workbench(State(state): State<AppState>, ReqLang(lang): ReqLang, u: PageUser) -> AppResult<Html<String>> {
    let user = u.user.clone();
    let cutoff = state.today().checked_sub(jiff::Span::new().months(state.config.review_months)).ok();
    let today = state.today();
    let now = state.clock.now();
    let tz = state.config.time_zone.clone();
    let (mine, review, renewals, (items, overdue), (notes, unread)) = state
        .db
        .read(move |c| {
            let scope = customer_scope(c, &user)?;
            let count =
                |c: &mut guanxi_store::Conn, f: CustomerFilter| -> guanxi_store::Result<customers::CustomerPage> {
                    customers::list(c, &scope, &f)
                };
            let mine = count(c, CustomerFilter { per_page: 1, ..Default::default() })?;
            let review = count(c, CustomerFilter { verified_before: cutoff, per_page: 5, ..Default::default() })?;
            let renewals = customers::renewals_due(c, &scope, today, 60, 5)?;
            let renewal_count = customers::count_renewals_due(c, &scope, today, 60)?;
            let items = guanxi_store::communications::open_items_of(c, user.id, 10)?;
            let overdue = guanxi_store::communications::count_overdue(c, user.id, now)?;
            let notes = guanxi_store::notifications::list(c, user.id, true, None, 20)?;
            let unread = guanxi_store::notifications::count_unread(c, user.id)?;
            Ok((mine, review, (renewal_count, renewals), (items, overdue), (notes, unread)))
        })
        .await?;
    let maintenance = super::maintenance::workbench_card(&state, &u, lang).await?;
    let title = lang.pick("工作台", "Workbench");
    let mut ctx = page_ctx(&u, lang, "home", title);
    ctx = context! { ..ctx, ..context! {
        customer_count => format!("{}{}", mine.total, if mine.total_capped { "+" } else { "" }),
        review_count => format!("{}{}", review.total, if review.total_capped { "+" } else { "" }),
        review_items => review.items.iter().map(|c| context!{ id => c.id, code => c.code, name => c.name, verified_on => c.verified_on.map(|d| d.to_string()) }).collect::<Vec<_>>(),
        renewal_count => renewals.0,
        renewals => renewals.1.iter().map(|c| context!{ id => c.id, code => c.code, name => c.name, contract_end => c.contract_end.map(|d| d.to_string()) }).collect::<Vec<_>>(),
        today => today.to_string(),
        maintenance => maintenance,
        notif_count => unread,
        notifications => notes.iter().map(|n| context!{
            id => n.id, ticket_id => n.ticket_id, breach => n.kind == "sla_breach",
            text => crate::api::notifications::text(n, lang),
            subject => n.ticket_subject,
            at => n.created_at.to_zoned(tz.clone()).strftime("%m-%d %H:%M").to_string(),
        }).collect::<Vec<_>>(),
        overdue_count => overdue,
        action_items => items.iter().map(|a| context!{
            id => a.id, content => a.content, customer_id => a.customer_id, customer => a.customer_name,
            due => a.due_at.to_zoned(tz.clone()).strftime("%m-%d %H:%M").to_string(),
            overdue => guanxi_domain::communication::is_overdue(a.status, a.due_at, now),
            status => a.status.label(lang),
        }).collect::<Vec<_>>(),
    }};
    render(&state, "home.html", ctx)
}

/// Marks one of the caller's notifications read, back to the workbench.
pub async fn read_notification(
    State(state): State<AppState>,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let (uid, now) = (u.user.id, state.clock.now());
    if !state.db.write(move |c| guanxi_store::notifications::mark_read(c, uid, id, now)).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/").into_response())
}

/// Marks all the caller's notifications read, back to the workbench.
pub async fn read_all_notifications(State(state): State<AppState>, u: PageUser, body: Bytes) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let (uid, now) = (u.user.id, state.clock.now());
    state.db.write(move |c| guanxi_store::notifications::mark_all_read(c, uid, now)).await?;
    Ok(Redirect::to("/").into_response())
}
