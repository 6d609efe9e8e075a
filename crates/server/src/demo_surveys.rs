//! The demo's satisfaction surveys (SPEC O4): most resolved demo tickets
//! were asked how satisfied the customer was (1–5), and most customers
//! answered within two days, so that the KPI reports show satisfaction,
//! the satisfied share and the feedback collection rate instead of
//! dashes. Each answer is on the customer's timeline, as a real one is.
//! Deterministic from the seed.

use guanxi_domain::outreach::SurveyKind;
use guanxi_store::outreach::{self as store, NewSurvey};
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::service::outreach::surveys::{Answer, record_answer};
use crate::state::AppState;

/// Share of resolved tickets whose customer was asked.
const ASKED: f64 = 0.6;
/// Share of the asked who answered.
const ANSWERED: f64 = 0.92;
/// Scores 5 to 1, weighted: about 4.4 on average, 89 % satisfied (4 or 5).
const SCORES: [(i64, u32); 5] = [(5, 60), (4, 29), (3, 7), (2, 3), (1, 1)];

/// The score a draw in `0..` the sum of the weights stands for.
fn score_at(mut draw: u32) -> i64 {
    for (score, weight) in SCORES {
        if draw < weight {
            return score;
        }
        draw -= weight;
    }
    SCORES[0].0
}

/// Adds the surveys of the demo's resolved tickets; how many were sent.
pub async fn load(state: &AppState, seed: u64) -> anyhow::Result<usize> {
    let now = state.clock.now();
    let kind = SurveyKind::Csat;
    let made = state
        .db
        .write(move |c| {
            let tickets = c.query(
                "SELECT id, customer_id, subject, resolved_at FROM tickets
                 WHERE resolved_at IS NOT NULL ORDER BY id LIMIT 100000",
                &[],
            )?;
            let mut rng = StdRng::seed_from_u64(seed ^ 0x5u64.rotate_left(40));
            let total: u32 = SCORES.iter().map(|s| s.1).sum();
            let mut made = 0;
            for r in &tickets {
                let (id, customer_id, subject, resolved): (i64, i64, String, Timestamp) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                let asked = rng.random_bool(ASKED);
                let answers = rng.random_bool(ANSWERED);
                let after = SignedDuration::from_mins(rng.random_range(5..2_880));
                let score = score_at(rng.random_range(0..total));
                let sent = resolved + SignedDuration::from_mins(15);
                if !asked || sent >= now {
                    continue;
                }
                let token = format!("demo-survey-{id}");
                let survey = NewSurvey {
                    token_hash: &token,
                    kind: kind.code(),
                    customer_id,
                    source: "ticket",
                    source_id: Some(id),
                    subject: &subject,
                    expires_at: sent + SignedDuration::from_hours(14 * 24),
                };
                let Some(survey_id) = store::create_survey(c, &survey, sent)? else { continue };
                made += 1;
                let answered = sent + after;
                if answers && answered < now {
                    let answer = Answer { survey_id, customer_id, kind, subject: &subject, score, comment: None };
                    record_answer(c, &answer, answered)?;
                }
            }
            Ok(made)
        })
        .await?;
    Ok(made)
}
