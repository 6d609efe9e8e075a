//! 设置: staff accounts and groups (admins only).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use guanxi_domain::user::{GroupKind, Role, UserInput};
use guanxi_domain::{Issue, Lang, ValidationErrors};
use guanxi_store::users;
use minijinja::{Value, context};

use super::{form_get, form_pairs, page_ctx, render};
use crate::auth::{PageAdmin, PageUser};
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::users as svc;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users).post(create_user))
        .route("/admin/users/{id}", get(edit_user).post(update_user))
        .route("/admin/groups", get(list_groups).post(create_group))
        .route("/admin/groups/{id}/delete", post(delete_group))
}

fn roles(lang: Lang) -> Vec<Value> {
    Role::ALL.iter().map(|r| context! { value => r.code(), label => r.label(lang) }).collect()
}

fn user_field_label(field: &str, lang: Lang) -> String {
    match field {
        "email" => lang.pick("邮箱", "Email"),
        "name" => lang.pick("姓名", "Name"),
        "role" => lang.pick("角色", "Role"),
        "group_id" => lang.pick("小组/部门", "Group"),
        "password" => lang.pick("密码", "Password"),
        "kind" => lang.pick("类型", "Kind"),
        other => other,
    }
    .to_string()
}

fn errors_ctx(e: Option<&ValidationErrors>, lang: Lang) -> (Vec<Value>, std::collections::BTreeMap<String, String>) {
    super::form_errors(e, lang, |f| user_field_label(f, lang))
}

fn input_from_form(pairs: &[(String, String)]) -> Result<UserInput, ValidationErrors> {
    let group_id = match form_get(pairs, "group_id").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| ValidationErrors::single("group_id", Issue::Unknown))?),
    };
    Ok(UserInput {
        email: form_get(pairs, "email").unwrap_or("").into(),
        name: form_get(pairs, "name").unwrap_or("").into(),
        role: form_get(pairs, "role").unwrap_or("").into(),
        group_id,
        password: form_get(pairs, "password").map(str::to_string),
        certified: Some(form_get(pairs, "certified").is_some()),
        active: Some(form_get(pairs, "active").is_some()),
    })
}

async fn users_page(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    input: &UserInput,
    errors: Option<&ValidationErrors>,
    flash: Option<&str>,
) -> AppResult<Html<String>> {
    let (all, groups) = state.db.read(|c| Ok((users::list(c)?, users::list_groups(c)?))).await?;
    let (errors, err) = errors_ctx(errors, lang);
    let title = lang.pick("用户管理", "Users");
    let ctx = context! { ..page_ctx(u, lang, "settings", title), ..context! {
        tab => "users",
        users => all.iter().map(|x| context! {
            id => x.id, name => x.name, email => x.email, role => x.role.label(lang), group => x.group_name,
            active => x.active, certified => x.certified,
        }).collect::<Vec<_>>(),
        groups => groups.iter().map(|g| context! { id => g.id, name => g.name }).collect::<Vec<_>>(),
        roles => roles(lang),
        v => context! { email => input.email, name => input.name, role => input.role, group_id => input.group_id.map(|g| g.to_string()), certified => input.certified.unwrap_or(false) },
        errors => errors, err => err, flash => flash,
    }};
    render(state, "admin/users.html", ctx)
}

async fn list_users(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let flash = match raw.as_deref() {
        Some(q) if q.contains("flash=created") => Some(lang.pick("用户已创建", "User created")),
        Some(q) if q.contains("flash=saved") => Some(lang.pick("修改已保存", "Changes saved")),
        _ => None,
    };
    let blank = UserInput { role: "agent".into(), ..Default::default() };
    users_page(&state, lang, &u, &blank, None, flash).await
}

async fn create_user(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let mut input = match input_from_form(&pairs) {
        Ok(i) => i,
        Err(e) => {
            let blank = UserInput::default();
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, users_page(&state, lang, &u, &blank, Some(&e), None).await?)
                .into_response());
        }
    };
    input.active = Some(true);
    match svc::create(&state, &u.user, input.clone()).await {
        Ok(_) => Ok(Redirect::to("/admin/users?flash=created").into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, users_page(&state, lang, &u, &input, Some(&e), None).await?)
                .into_response())
        }
        Err(e) => Err(e),
    }
}

async fn user_form(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    id: i64,
    input: &UserInput,
    errors: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let groups = state.db.read(users::list_groups).await?;
    let (errors, err) = errors_ctx(errors, lang);
    let title = lang.pick("编辑用户", "Edit user");
    let ctx = context! { ..page_ctx(u, lang, "settings", title), ..context! {
        tab => "users",
        id => id,
        groups => groups.iter().map(|g| context! { id => g.id, name => g.name }).collect::<Vec<_>>(),
        roles => roles(lang),
        v => context! { email => input.email, name => input.name, role => input.role, group_id => input.group_id.map(|g| g.to_string()),
            certified => input.certified.unwrap_or(false), active => input.active.unwrap_or(true) },
        errors => errors, err => err,
    }};
    render(state, "admin/user_form.html", ctx)
}

async fn edit_user(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    Path(id): Path<i64>,
) -> AppResult<Html<String>> {
    let x = state.db.read(move |c| users::get(c, id)).await?;
    let input = UserInput {
        email: x.email,
        name: x.name,
        role: x.role.code().into(),
        group_id: x.group_id,
        password: None,
        certified: Some(x.certified),
        active: Some(x.active),
    };
    user_form(&state, lang, &u, id, &input, None).await
}

async fn update_user(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let input = match input_from_form(&pairs) {
        Ok(i) => i,
        Err(e) => {
            let blank = UserInput::default();
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, user_form(&state, lang, &u, id, &blank, Some(&e)).await?)
                .into_response());
        }
    };
    match svc::update(&state, &u.user, id, input.clone()).await {
        Ok(_) => Ok(Redirect::to("/admin/users?flash=saved").into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, user_form(&state, lang, &u, id, &input, Some(&e)).await?)
                .into_response())
        }
        Err(e) => Err(e),
    }
}

async fn groups_page(
    state: &AppState,
    lang: Lang,
    u: &PageUser,
    name: &str,
    errors: Option<&ValidationErrors>,
) -> AppResult<Html<String>> {
    let groups = state.db.read(users::list_groups).await?;
    let (errors, err) = errors_ctx(errors, lang);
    let title = lang.pick("小组与部门", "Groups & departments");
    let ctx = context! { ..page_ctx(u, lang, "settings", title), ..context! {
        tab => "groups",
        groups => groups.iter().map(|g| context! { id => g.id, name => g.name, kind => g.kind.label(lang), members => g.members }).collect::<Vec<_>>(),
        kinds => GroupKind::ALL.iter().map(|k| context! { value => k.code(), label => k.label(lang) }).collect::<Vec<_>>(),
        v => context! { name => name },
        errors => errors, err => err,
    }};
    render(state, "admin/groups.html", ctx)
}

async fn list_groups(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
) -> AppResult<Html<String>> {
    groups_page(&state, lang, &u, "", None).await
}

async fn create_group(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    PageAdmin(u): PageAdmin,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let name = form_get(&pairs, "name").unwrap_or("");
    let kind = form_get(&pairs, "kind").unwrap_or("");
    match svc::create_group(&state, &u.user, name, kind).await {
        Ok(_) => Ok(Redirect::to("/admin/groups").into_response()),
        Err(AppError::Invalid(e)) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, groups_page(&state, lang, &u, name, Some(&e)).await?).into_response())
        }
        Err(e) => Err(e),
    }
}

async fn delete_group(
    State(state): State<AppState>,
    PageAdmin(u): PageAdmin,
    Path(id): Path<i64>,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    svc::delete_group(&state, &u.user, id).await?;
    Ok(Redirect::to("/admin/groups").into_response())
}
