//! The maintenance record form (客户关系维护记录表, SPEC M4): the customer
//! snapshot on top, then exactly the seed's fields — contact person,
//! scenario, time, channel, owner, summary, feedback and needs (explicit /
//! implicit), the revisit checklist, action items (what / who / by when),
//! completion status, satisfaction, notes and the effect evaluation — and
//! the tag changes, churn reason, gift and script where they apply. A
//! refused field is shown beside it and nothing is saved.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_domain::communication::ActionItemInput;
use guanxi_domain::customer::{Channel, cooperation_length_text, cooperation_months};
use guanxi_domain::plan::Scenario;
use guanxi_domain::plan::record::{ChecklistPart, Completion, Effect, RecordInput};
use guanxi_domain::segment::ChurnReason;
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::maintenance::Record;
use guanxi_store::users;
use jiff::tz::TimeZone;
use minijinja::{Value, context};

use super::{channel_label, scenario_label, task_ctx};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::maintenance as svc;
use crate::state::AppState;
use crate::web::{form_get, form_pairs, page_ctx, render};

/// How many action-item rows the form offers.
const ITEM_ROWS: usize = 3;

fn all<'a>(pairs: &'a [(String, String)], k: &str) -> Vec<&'a str> {
    pairs.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect()
}

fn opt(pairs: &[(String, String)], k: &str) -> Option<String> {
    form_get(pairs, k).map(str::to_string)
}

/// Tags typed as one text: separated by 、，, ; or spaces.
fn tag_list(raw: &str) -> Vec<String> {
    raw.split(['、', '，', ',', '；', ';', ' ', '　'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads the posted form; a number that is not one is refused under its
/// field. Also returns the form row of each action item (empty rows are
/// skipped), so that errors land beside the row they are about.
fn input_of(pairs: &[(String, String)]) -> Result<(RecordInput, Vec<usize>), ValidationErrors> {
    let mut e = ValidationErrors::new();
    let mut num = |k: &str, field: &str| -> Option<i64> {
        let v = form_get(pairs, k).map(str::trim).filter(|s| !s.is_empty())?;
        match v.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                e.add(field, Issue::NotAllowed);
                None
            }
        }
    };
    let contact_id = num("contact_id", "contact_id");
    let owner_id = num("owner_id", "owner_id");
    let satisfaction = num("satisfaction", "satisfaction");
    let script_id = num("script_id", "script_id");
    let mut items = Vec::new();
    let mut rows = Vec::new();
    for i in 0..ITEM_ROWS {
        let content = opt(pairs, &format!("item{i}_content")).unwrap_or_default();
        let due = opt(pairs, &format!("item{i}_due")).filter(|s| !s.trim().is_empty());
        let owner = num(&format!("item{i}_owner"), &format!("action_items[{i}].owner_id"));
        // A row left completely empty is not an action item.
        if content.trim().is_empty() && due.is_none() && owner.is_none() {
            continue;
        }
        items.push(ActionItemInput { content, owner_id: owner, due });
        rows.push(i);
    }
    if !e.is_empty() {
        return Err(e);
    }
    let input = RecordInput {
        contact_id,
        occurred_at: opt(pairs, "occurred_at"),
        channel: opt(pairs, "channel").unwrap_or_default(),
        owner_id,
        summary: opt(pairs, "summary").unwrap_or_default(),
        feedback: opt(pairs, "feedback"),
        needs_explicit: opt(pairs, "needs_explicit"),
        needs_implicit: opt(pairs, "needs_implicit"),
        checklist: all(pairs, "checklist").into_iter().map(str::to_string).collect(),
        action_items: items,
        completion: opt(pairs, "completion").unwrap_or_default(),
        satisfaction,
        notes: opt(pairs, "notes"),
        effect: opt(pairs, "effect").unwrap_or_default(),
        effect_note: opt(pairs, "effect_note"),
        add_tags: tag_list(form_get(pairs, "add_tags").unwrap_or("")),
        remove_tags: all(pairs, "remove_tags").into_iter().map(str::to_string).collect(),
        churn_reason: opt(pairs, "churn_reason"),
        gift: opt(pairs, "gift"),
        script_id,
    };
    Ok((input, rows))
}

/// `action_items[k].x` of the k-th item → the form row it came from.
fn on_rows(mut e: ValidationErrors, rows: &[usize]) -> ValidationErrors {
    for f in &mut e.0 {
        let k = f.field.strip_prefix("action_items[").and_then(|r| r.split_once(']'));
        if let Some((n, rest)) = k
            && let Some(row) = n.parse::<usize>().ok().and_then(|n| rows.get(n))
        {
            f.field = format!("action_items[{row}]{rest}");
        }
    }
    e
}

/// The label of a refused field, as the error summary names it.
fn field_label(field: &str, lang: Lang) -> String {
    let base = field.rsplit('.').next().unwrap_or(field);
    let row =
        field.strip_prefix("action_items[").and_then(|r| r.split(']').next()).and_then(|n| n.parse::<usize>().ok());
    let name = match base {
        "contact_id" => lang.pick("联系人", "Contact person"),
        "occurred_at" => lang.pick("维护时间", "Time"),
        "channel" => lang.pick("维护渠道", "Channel"),
        "owner_id" => lang.pick("负责人", "Owner"),
        "summary" => lang.pick("维护内容摘要", "Summary"),
        "feedback" => lang.pick("客户反馈", "Customer feedback"),
        "needs_explicit" => lang.pick("显性需求", "Explicit needs"),
        "needs_implicit" => lang.pick("隐性需求", "Implicit needs"),
        "checklist" => lang.pick("回访清单", "Revisit checklist"),
        "completion" => lang.pick("完成情况", "Completion"),
        "satisfaction" => lang.pick("满意度", "Satisfaction"),
        "notes" => lang.pick("备注", "Notes"),
        "effect" => lang.pick("本次维护是否达成", "Effect"),
        "effect_note" => lang.pick("达成情况说明", "Effect note"),
        "add_tags" => lang.pick("添加标签", "Add tags"),
        "remove_tags" => lang.pick("移除标签", "Remove tags"),
        "churn_reason" => lang.pick("流失原因", "Churn reason"),
        "gift" => lang.pick("礼品/优惠券", "Gift or coupon"),
        "script_id" => lang.pick("使用的话术", "Script used"),
        "content" => lang.pick("行动内容", "What"),
        "due" => lang.pick("完成时限", "By when"),
        "task" => lang.pick("维护任务", "Task"),
        "action_items" => lang.pick("后续行动项", "Follow-up actions"),
        other => other,
    };
    match row {
        Some(n) => format!("{} {} · {name}", lang.pick("行动项", "Action item"), n + 1),
        None => name.to_string(),
    }
}

/// The message shown beside a refused field: every follow-up names what,
/// who and by when, so a missing owner or due date says exactly that.
fn field_message(field: &str, issue: &Issue, lang: Lang) -> String {
    let in_item = field.starts_with("action_items[");
    match (issue, field.rsplit('.').next()) {
        (Issue::Required, Some("owner_id")) if in_item => lang
            .pick("请选择负责人：每个行动项都要写明由谁来做", "Choose who does it: every action item names its owner")
            .into(),
        (Issue::Required, Some("due")) if in_item => lang
            .pick("请填写完成时限：每个行动项都要写明何时完成", "Give a due date: every action item says by when")
            .into(),
        (Issue::Required, Some("content")) if in_item => lang.pick("请填写要做什么", "Say what will be done").into(),
        (Issue::NotAllowed, Some("task")) => lang
            .pick("该任务已完成，不能再次填写记录", "This task is already done; its record cannot be filled again")
            .into(),
        _ => issue.message(lang),
    }
}

fn html_id(field: &str) -> String {
    field.replace(['[', ']', '.'], "_")
}

/// Everything the form shows.
async fn render_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: i64,
    pairs: &[(String, String)],
    e: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let p = svc::preparation(state, &u.user, id).await?;
    let staff = state.db.read(users::list_active).await?;
    let tz = state.config.time_zone.clone();
    let today = state.today();
    let scenario = Scenario::parse(&p.task.scenario).map_err(|_| AppError::Internal("scenario".into()))?;
    let errors: Vec<Value> = e
        .map(|e| {
            e.0.iter()
                .map(|f| context! { field => html_id(&f.field), label => field_label(&f.field, lang), message => field_message(&f.field, &f.issue, lang) })
                .collect()
        })
        .unwrap_or_default();
    let err: BTreeMap<String, String> = e
        .map(|e| e.0.iter().map(|f| (html_id(&f.field), field_message(&f.field, &f.issue, lang))).collect())
        .unwrap_or_default();
    let fresh = pairs.is_empty();
    let value = |k: &str| form_get(pairs, k).unwrap_or("").to_string();
    let now_local = state.clock.now().to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M").to_string();
    let items: Vec<Value> = (0..ITEM_ROWS)
        .map(|i| {
            context! {
                i => i,
                content => value(&format!("item{i}_content")),
                due => value(&format!("item{i}_due")),
                owner => value(&format!("item{i}_owner")),
            }
        })
        .collect();
    let checked: Vec<&str> = all(pairs, "checklist");
    let removing: Vec<&str> = all(pairs, "remove_tags");
    let c = &p.customer;
    let default_owner = p.task.owner_id.unwrap_or(u.user.id).to_string();
    let title = lang.pick("填写维护记录", "Maintenance record");
    let ctx = context! { ..page_ctx(u, lang, "tasks", title), ..context! {
        tk => task_ctx(state, &p.task, lang),
        snapshot => context! {
            code => c.code, name => c.name, industry => c.industry,
            cooperation => c.cooperation_start.map(|s| cooperation_length_text(cooperation_months(s, today), lang)),
            last_cooperation => c.last_cooperation_on.map(|d| d.to_string()),
            tags => c.tags,
            rule_tags => p.segment.as_ref().map(|s| s.rule_tags.clone()).unwrap_or_default(),
        },
        errors => errors, err => err,
        is_revisit => matches!(scenario, Scenario::Revisit | Scenario::DeepInterview),
        asks_reason => matches!(scenario, Scenario::ChurnRecovery | Scenario::SilentCare),
        reason_required => scenario == Scenario::ChurnRecovery,
        is_milestone => scenario == Scenario::Milestone,
        v => context! {
            occurred_at => if fresh { now_local } else { value("occurred_at") },
            contact_id => if fresh { p.task.contact_id.map(|x| x.to_string()).unwrap_or_default() } else { value("contact_id") },
            channel => if fresh { p.task.channel.clone().unwrap_or_else(|| "phone".into()) } else { value("channel") },
            owner_id => if fresh { default_owner } else { value("owner_id") },
            summary => value("summary"), feedback => value("feedback"),
            needs_explicit => value("needs_explicit"), needs_implicit => value("needs_implicit"),
            completion => value("completion"), satisfaction => value("satisfaction"), notes => value("notes"),
            effect => value("effect"), effect_note => value("effect_note"), add_tags => value("add_tags"),
            churn_reason => value("churn_reason"), gift => value("gift"), script_id => value("script_id"),
        },
        items => items,
        checklist => ChecklistPart::ALL.iter().map(|x| context! { value => x.code(), label => x.label(lang), checked => checked.contains(&x.code()) }).collect::<Vec<_>>(),
        removable => c.tags.iter().map(|t| context! { value => t, checked => removing.contains(&t.as_str()) }).collect::<Vec<_>>(),
        contacts => p.contacts.iter().map(|x| context! { value => x.id, label => match &x.title { Some(t) => format!("{} · {t}", x.name), None => x.name.clone() } }).collect::<Vec<_>>(),
        staff => staff.iter().map(|s| context! { value => s.id, label => s.name }).collect::<Vec<_>>(),
        channels => Channel::ALL.iter().map(|x| context! { value => x.code(), label => x.label(lang) }).collect::<Vec<_>>(),
        completions => Completion::ALL.iter().map(|x| context! { value => x.code(), label => x.label(lang) }).collect::<Vec<_>>(),
        effects => Effect::ALL.iter().map(|x| context! { value => x.code(), label => x.label(lang) }).collect::<Vec<_>>(),
        reasons => ChurnReason::ALL.iter().map(|x| context! { value => x.code(), label => x.label(lang) }).collect::<Vec<_>>(),
        scripts => p.scripts.iter().map(|s| context! { value => s.id, label => s.title }).collect::<Vec<_>>(),
        scenario_label => scenario_label(scenario.code(), lang),
        done => !p.may_record,
    }};
    render(state, "maintenance/record_form.html", ctx)
}

pub(super) async fn form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let p = svc::preparation(&state, &u.user, id).await?;
    if !p.may_record {
        return Ok(Redirect::to(&format!("/maintenance/tasks/{id}")).into_response());
    }
    Ok(render_form(&state, lang, &u, id, &[], None).await?.into_response())
}

pub(super) async fn save(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let refused = match input_of(&pairs) {
        Ok((input, rows)) => match svc::save_record(&state, &u.user, id, input).await {
            Ok(_) => return Ok(Redirect::to(&format!("/maintenance/tasks/{id}?flash=recorded")).into_response()),
            Err(AppError::Invalid(e)) => on_rows(e, &rows),
            Err(e) => return Err(e),
        },
        Err(e) => e,
    };
    let html = render_form(&state, lang, &u, id, &pairs, Some(&refused)).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
}

/// A saved record, for the preparation view of a done task.
pub(super) fn record_ctx(r: &Record, lang: Lang, tz: &TimeZone) -> Value {
    let snap = svc::snapshot_of(r);
    context! {
        occurred => r.occurred_at.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
        channel => channel_label(Some(&r.channel), lang),
        owner => r.owner_name,
        contact => snap.contact,
        snapshot => context! {
            code => snap.code, name => snap.name, industry => snap.industry,
            cooperation => snap.cooperation_months.map(|m| cooperation_length_text(m, lang)),
            last_cooperation => snap.last_cooperation_on, tags => snap.tags,
        },
        summary => r.summary, feedback => r.feedback,
        needs_explicit => r.needs_explicit, needs_implicit => r.needs_implicit,
        checklist => r.checklist.iter().filter_map(|c| ChecklistPart::parse(c).ok()).map(|c| c.label(lang)).collect::<Vec<_>>(),
        completion => Completion::parse(&r.completion).map_or(r.completion.as_str(), |c| c.label(lang)),
        satisfaction => r.satisfaction,
        notes => r.notes,
        effect => r.effect,
        effect_label => Effect::parse(&r.effect).map_or(r.effect.as_str(), |c| c.label(lang)),
        effect_note => r.effect_note,
        churn_reason => r.churn_reason.as_deref().and_then(|c| ChurnReason::parse(c).ok()).map(|x| x.label(lang)),
        gift => r.gift,
        tags_added => r.tags_added, tags_removed => r.tags_removed,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn action_item_rows_and_their_messages() {
        let pairs: Vec<(String, String)> = [
            ("channel", "phone"),
            ("summary", "回访"),
            ("item0_content", "寄送样册"),
            ("item0_owner", ""),
            ("item0_due", "2025-10-15"),
            ("item1_content", ""),
            ("item1_due", ""),
            ("item2_content", "安排技术回访"),
            ("item2_owner", "3"),
            ("checklist", "usage"),
            ("checklist", "needs"),
            ("add_tags", "偏好新品、对功能有需求"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (input, rows) = input_of(&pairs).unwrap();
        assert_eq!(input.action_items.len(), 2, "the empty row is not an item");
        assert_eq!(rows, vec![0, 2]);
        let e = on_rows(ValidationErrors::single("action_items[1].due", Issue::Required), &rows);
        assert_eq!(e.fields(), vec!["action_items[2].due"]);
        assert_eq!(input.action_items[0].owner_id, None);
        assert_eq!(input.checklist, vec!["usage", "needs"]);
        assert_eq!(input.add_tags, vec!["偏好新品", "对功能有需求"]);
        assert_eq!(field_label("action_items[0].owner_id", Lang::Zh), "行动项 1 · 负责人");
        assert!(field_message("action_items[0].owner_id", &Issue::Required, Lang::Zh).contains("负责人"));
        assert!(field_message("action_items[2].due", &Issue::Required, Lang::En).contains("due date"));
        assert_eq!(field_message("summary", &Issue::Required, Lang::Zh), "必填");
        assert_eq!(html_id("action_items[0].owner_id"), "action_items_0__owner_id");
    }
}
