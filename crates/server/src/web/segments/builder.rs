//! The segment builder (SPEC G6): conditions on tier, activity, RFM
//! segment, churn signals, tags and customer fields, all of which must hold;
//! a preview of the members; saving under a name (supervisors and
//! administrators); and the list of saved segments.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use guanxi_domain::customer::{LifecycleStage, Tag};
use guanxi_domain::money::Money;
use guanxi_domain::segment::{Activity, Condition, RfmSegment, Segment, SignalKind, ValueTier};
use guanxi_domain::{Issue, Lang, ValidationErrors, validation};
use guanxi_store::segments::{self as store, MemberOrder, SavedSegment};
use minijinja::{Value, context};

use super::{PER_PAGE, member_row, page_param, pager, query_pairs};
use crate::auth::PageUser;
use crate::error::{AppError, AppResult};
use crate::lang::ReqLang;
use crate::service::segments as svc;
use crate::state::AppState;
use crate::web::{form_get, form_pairs, page_ctx, render};

/// Members shown in the builder's preview; the rest are one link away.
const PREVIEW_ROWS: i64 = 10;
/// Saved segments listed beside the builder.
const SAVED_ROWS: i64 = 10;
/// The longest segment name.
const NAME_MAX: usize = 60;

/// The builder's fields as typed. Every condition field left empty is no
/// condition.
#[derive(Debug, Clone, Default)]
pub(super) struct BuilderForm {
    tier: String,
    activity: String,
    rfm_segment: String,
    signal: String,
    at_risk: bool,
    tag: String,
    industry: String,
    region: String,
    stage: String,
    /// Yuan, as typed.
    min_spend: String,
    name: String,
}

/// The condition fields, in form order.
const FIELDS: [&str; 10] =
    ["tier", "activity", "rfm_segment", "signal", "at_risk", "tag", "industry", "region", "stage", "min_spend"];

impl BuilderForm {
    pub(super) fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |k: &str| form_get(pairs, k).unwrap_or("").trim().to_string();
        BuilderForm {
            tier: get("tier"),
            activity: get("activity"),
            rfm_segment: get("rfm_segment"),
            signal: get("signal"),
            at_risk: matches!(form_get(pairs, "at_risk"), Some(v) if !v.is_empty()),
            tag: get("tag"),
            industry: get("industry"),
            region: get("region"),
            stage: get("stage"),
            min_spend: get("min_spend"),
            name: get("name"),
        }
    }

    /// The form of a saved segment, when the builder can show it: one
    /// condition per field and no `any`.
    pub(super) fn from_segment(seg: &Segment) -> Option<Self> {
        let mut f = BuilderForm::default();
        let set = |slot: &mut String, v: &str| -> Option<()> {
            if !slot.is_empty() {
                return None;
            }
            *slot = v.to_string();
            Some(())
        };
        for c in &seg.all {
            match c {
                Condition::Tier(t) => set(&mut f.tier, t.code())?,
                Condition::Activity(a) => set(&mut f.activity, a.code())?,
                Condition::RfmSegment(r) => set(&mut f.rfm_segment, r.code())?,
                Condition::HasSignal(k) => set(&mut f.signal, k.code())?,
                Condition::AtRisk => f.at_risk = true,
                Condition::HasTag(t) => set(&mut f.tag, t)?,
                Condition::Industry(i) => set(&mut f.industry, i)?,
                Condition::Region(r) => set(&mut f.region, r)?,
                Condition::Stage(s) => set(&mut f.stage, s.code())?,
                Condition::MinSpend(m) => set(&mut f.min_spend, &yuan(*m))?,
                Condition::Any(_) => return None,
            }
        }
        Some(f)
    }

    /// The conditions as a query string, for links (the name is not part of it).
    pub(super) fn query(&self) -> String {
        let mut q: Vec<(&str, &str)> = FIELDS
            .iter()
            .filter(|k| **k != "at_risk")
            .filter_map(|k| Some((*k, self.value(k)?)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if self.at_risk {
            q.push(("at_risk", "1"));
        }
        serde_urlencoded::to_string(&q).unwrap_or_default()
    }

    fn value(&self, field: &str) -> Option<&str> {
        Some(match field {
            "tier" => &self.tier,
            "activity" => &self.activity,
            "rfm_segment" => &self.rfm_segment,
            "signal" => &self.signal,
            "tag" => &self.tag,
            "industry" => &self.industry,
            "region" => &self.region,
            "stage" => &self.stage,
            "min_spend" => &self.min_spend,
            _ => return None,
        })
    }

    fn has_conditions(&self) -> bool {
        self.at_risk || FIELDS.iter().any(|k| self.value(k).is_some_and(|v| !v.is_empty()))
    }

    /// The segment the fields describe. Errors name the form field.
    pub(super) fn segment(&self) -> Result<Segment, ValidationErrors> {
        let mut e = ValidationErrors::new();
        // Each condition with the field it came from, to name the field of
        // an error the segment's own validation finds.
        let mut conds: Vec<(&'static str, Condition)> = Vec::new();
        let mut pick = |field: &'static str, raw: &str, parse: &dyn Fn(&str) -> Result<Condition, Issue>| {
            if raw.is_empty() {
                return;
            }
            match parse(raw) {
                Ok(c) => conds.push((field, c)),
                Err(issue) => e.add(field, issue),
            }
        };
        pick("tier", &self.tier, &|r| ValueTier::parse(r).map(Condition::Tier));
        pick("activity", &self.activity, &|r| Activity::parse(r).map(Condition::Activity));
        pick("rfm_segment", &self.rfm_segment, &|r| RfmSegment::parse(r).map(Condition::RfmSegment));
        pick("signal", &self.signal, &|r| SignalKind::parse(r).map(Condition::HasSignal));
        if self.at_risk {
            pick("at_risk", "1", &|_| Ok(Condition::AtRisk));
        }
        pick("tag", &self.tag, &|r| Tag::parse(r).map(|t| Condition::HasTag(t.as_str().to_string())));
        pick("industry", &self.industry, &|r| Ok(Condition::Industry(r.to_string())));
        pick("region", &self.region, &|r| Ok(Condition::Region(r.to_string())));
        pick("stage", &self.stage, &|r| LifecycleStage::parse(r).map(Condition::Stage));
        pick("min_spend", &self.min_spend, &|r| Money::parse(r).map(Condition::MinSpend));
        let seg = Segment::new(conds.iter().map(|(_, c)| c.clone()).collect());
        if let Err(more) = seg.validate() {
            for f in more.0 {
                let field = f
                    .field
                    .strip_prefix("all[")
                    .and_then(|r| r.split(']').next())
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| conds.get(i))
                    .map_or("all", |(field, _)| *field);
                e.add(field, f.issue);
            }
        }
        e.into_result(|| seg)
    }

    fn values(&self) -> Value {
        context! {
            tier => self.tier, activity => self.activity, rfm_segment => self.rfm_segment, signal => self.signal,
            at_risk => self.at_risk, tag => self.tag, industry => self.industry, region => self.region,
            stage => self.stage, min_spend => self.min_spend, name => self.name,
        }
    }
}

/// An amount as the form shows it: yuan without grouping, e.g. `50000` or `1234.5`.
fn yuan(m: Money) -> String {
    let (y, f) = (m.fen() / 100, m.fen() % 100);
    match f {
        0 => y.to_string(),
        f if f % 10 == 0 => format!("{y}.{}", f / 10),
        f => format!("{y}.{f:02}"),
    }
}

fn field_label(field: &str, lang: Lang) -> &'static str {
    match field {
        "tier" => lang.pick("价值分层", "Value tier"),
        "activity" => lang.pick("活跃度", "Activity"),
        "rfm_segment" => lang.pick("RFM 分群", "RFM segment"),
        "signal" => lang.pick("流失信号", "Churn signal"),
        "at_risk" => lang.pick("流失预警", "At risk"),
        "tag" => lang.pick("标签", "Tag"),
        "industry" => lang.pick("行业", "Industry"),
        "region" => lang.pick("地区", "Region"),
        "stage" => lang.pick("生命周期阶段", "Lifecycle stage"),
        "min_spend" => lang.pick("近12个月消费不低于（元）", "Spend in 12 months at least (yuan)"),
        "name" => lang.pick("客群名称", "Segment name"),
        _ => lang.pick("条件", "Conditions"),
    }
}

fn options<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T, Lang) -> &'static str,
    lang: Lang,
) -> Vec<Value> {
    all.iter().map(|x| context! { value => code(*x), label => label(*x, lang) }).collect()
}

/// A saved segment as the lists show it.
fn saved_row(s: &SavedSegment, lang: Lang) -> Value {
    let description = match svc::parse_segment(&s.definition) {
        Ok(seg) => seg.describe(lang),
        Err(_) => lang.pick("（定义无法读取）", "(the definition cannot be read)").to_string(),
    };
    context! { id => s.id, name => s.name, description => description, href => format!("/segments/saved/{}", s.id) }
}

/// What the builder page shows besides the form.
struct BuilderPage<'a> {
    form: &'a BuilderForm,
    /// The segment to preview, if the user asked and the conditions are good.
    preview: Option<Segment>,
    errors: ValidationErrors,
}

async fn render_builder(state: &AppState, lang: Lang, u: &PageUser, p: BuilderPage<'_>) -> AppResult<Response> {
    let preview = match p.preview {
        Some(seg) => {
            let description = seg.describe(lang);
            let m = svc::members(state, &u.user, seg, MemberOrder::SpendDesc, 1, PREVIEW_ROWS).await?;
            Some(context! {
                description => description,
                total => m.total,
                items => m.items.iter().map(|x| member_row(x, lang)).collect::<Vec<_>>(),
                more => (m.total > m.items.len() as i64).then(|| format!("/segments/members?{}", p.form.query())),
                all => format!("/segments/members?{}", p.form.query()),
            })
        }
        None => None,
    };
    let (industries, tags, (saved, saved_total)) = state
        .db
        .read(|c| {
            Ok((
                guanxi_store::customers::industries(c)?,
                guanxi_store::customers::popular_tags(c, 30)?,
                store::saved_segments_page(c, 1, SAVED_ROWS)?,
            ))
        })
        .await?;
    // Rule tags are tags too, though no customer_tags row holds them.
    let mut tag_names: Vec<String> =
        guanxi_domain::segment::default_rule_tags().into_iter().map(|(n, _)| n.to_string()).collect();
    for (t, _) in tags {
        if !tag_names.contains(&t) {
            tag_names.push(t);
        }
    }
    let mut industries = industries;
    if !p.form.industry.is_empty() && !industries.contains(&p.form.industry) {
        industries.push(p.form.industry.clone());
    }
    let errors: Vec<Value> = p
        .errors
        .0
        .iter()
        .map(|f| context! { field => f.field, label => field_label(&f.field, lang), message => f.issue.message(lang) })
        .collect();
    let err: std::collections::BTreeMap<String, String> =
        p.errors.0.iter().map(|f| (f.field.clone(), f.issue.message(lang))).collect();
    let title = lang.pick("客群构建器", "Segment builder");
    let ctx = context! { ..page_ctx(u, lang, "segments", title), ..context! {
        v => p.form.values(),
        errors => errors,
        err => err,
        tiers => options(ValueTier::ALL, ValueTier::code, ValueTier::label, lang),
        activities => options(Activity::ALL, Activity::code, Activity::label, lang),
        rfms => options(RfmSegment::ALL, RfmSegment::code, RfmSegment::label, lang),
        signals => options(SignalKind::ALL, SignalKind::code, SignalKind::label, lang),
        stages => options(LifecycleStage::ALL, LifecycleStage::code, LifecycleStage::label, lang),
        industries => industries.iter().map(|i| context! { value => i, label => i }).collect::<Vec<_>>(),
        tags => tag_names,
        preview => preview,
        can_save => u.user.role.sees_all_customers(),
        saved => saved.iter().map(|s| saved_row(s, lang)).collect::<Vec<_>>(),
        saved_more => saved_total > saved.len() as i64,
        saved_total => saved_total,
        in_scope_only => !u.user.role.sees_all_customers(),
        tab => "builder",
    }};
    let status = if p.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, render(state, "segments/builder.html", ctx)?).into_response())
}

/// The builder, with the conditions of the query filled in and previewed.
pub(super) async fn form(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Response> {
    let pairs = query_pairs(raw.as_deref());
    let form = BuilderForm::from_pairs(&pairs);
    let asked = form.has_conditions() || form_get(&pairs, "preview").is_some();
    let page = match form.segment() {
        Ok(seg) => BuilderPage { form: &form, preview: asked.then_some(seg), errors: ValidationErrors::new() },
        Err(errors) => BuilderPage { form: &form, preview: None, errors },
    };
    render_builder(&state, lang, &u, page).await
}

/// "预览" shows the members; "保存为客群" saves the conditions under the
/// name. Whatever is wrong is said beside its field, and nothing is saved.
pub(super) async fn submit(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    body: Bytes,
) -> AppResult<Response> {
    let pairs = form_pairs(&body)?;
    u.check_csrf(form_get(&pairs, "_csrf"))?;
    let form = BuilderForm::from_pairs(&pairs);
    let parsed = form.segment();
    if form_get(&pairs, "action") != Some("save") {
        let page = match parsed {
            Ok(seg) => BuilderPage { form: &form, preview: Some(seg), errors: ValidationErrors::new() },
            Err(errors) => BuilderPage { form: &form, preview: None, errors },
        };
        return render_builder(&state, lang, &u, page).await;
    }
    if !u.user.role.sees_all_customers() {
        return Err(AppError::Forbidden);
    }
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    if let Err(issue) = validation::required_text(&form.name, NAME_MAX) {
        errors.add("name", issue);
    }
    if let (Ok(seg), true) = (&parsed, errors.is_empty()) {
        match svc::save_segment(&state, &u.user, &form.name, seg).await {
            Ok(id) => return Ok(Redirect::to(&format!("/segments/saved/{id}?flash=saved")).into_response()),
            Err(AppError::Invalid(e)) => errors = e,
            Err(e) => return Err(e),
        }
    }
    render_builder(&state, lang, &u, BuilderPage { form: &form, preview: parsed.ok(), errors }).await
}

/// Every saved segment, a page at a time.
pub(super) async fn saved_list(
    State(state): State<AppState>,
    ReqLang(lang): ReqLang,
    u: PageUser,
    RawQuery(raw): RawQuery,
) -> AppResult<Html<String>> {
    let pairs = query_pairs(raw.as_deref());
    let page = page_param(&pairs);
    let (items, total) = state.db.read(move |c| store::saved_segments_page(c, page, PER_PAGE)).await?;
    let title = lang.pick("已保存的客群", "Saved segments");
    let ctx = context! { ..page_ctx(&u, lang, "segments", title), ..context! {
        items => items.iter().map(|s| saved_row(s, lang)).collect::<Vec<_>>(),
        pager => pager(total, page, PER_PAGE, items.len(), |n| format!("/segments/saved?page={n}")),
        tab => "builder",
    }};
    render(&state, "segments/saved.html", ctx)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BuilderForm {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        BuilderForm::from_pairs(&owned)
    }

    #[test]
    fn fields_become_conditions_in_form_order() {
        let f = form(&[("min_spend", "50000"), ("tier", "high"), ("at_risk", "1"), ("region", " 广东 ")]);
        let seg = f.segment().unwrap();
        assert_eq!(
            seg.all,
            vec![
                Condition::Tier(ValueTier::High),
                Condition::AtRisk,
                Condition::Region("广东".into()),
                Condition::MinSpend(Money::from_fen(5_000_000)),
            ]
        );
        assert_eq!(BuilderForm::from_segment(&seg).unwrap().query(), f.query());
        assert_eq!(f.query(), "tier=high&region=%E5%B9%BF%E4%B8%9C&min_spend=50000&at_risk=1");
        let grouped = form(&[("min_spend", "¥50,000.00")]).segment().unwrap();
        assert_eq!(grouped.all, vec![Condition::MinSpend(Money::from_fen(5_000_000))]);
        assert!(form(&[]).segment().unwrap().all.is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let e = form(&[("tier", "gold"), ("min_spend", "abc"), ("tag", "a,b"), ("industry", &"长".repeat(51))])
            .segment()
            .unwrap_err();
        assert_eq!(e.fields(), vec!["tier", "tag", "min_spend", "industry"]);
        assert_eq!(e.get("min_spend"), Some(&Issue::InvalidAmount));
        assert_eq!(e.get("industry"), Some(&Issue::TooLong { max: 50 }));
    }

    #[test]
    fn amounts_show_as_typed_yuan() {
        assert_eq!(yuan(Money::from_fen(5_000_000)), "50000");
        assert_eq!(yuan(Money::from_fen(123_450)), "1234.5");
        assert_eq!(yuan(Money::from_fen(123_456)), "1234.56");
        let seg = Segment::new(vec![Condition::Any(vec![Condition::AtRisk])]);
        assert!(BuilderForm::from_segment(&seg).is_none());
    }
}
