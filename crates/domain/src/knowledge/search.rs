//! Chinese full-text search without a segmenter: text is cut into terms —
//! every two-character window of a run of CJK characters (so any
//! two-character word such as 退款 or 物流 is a term of every text that
//! contains it), a lone CJK character, and each ASCII letter/digit word
//! lower-cased — and ranked with BM25 over those terms, the title counting
//! [`TITLE_WEIGHT`] times its body.
//!
//! The store keeps, per (term, article), an integer *impact*: the BM25 term
//! frequency part, computed when the article is indexed. A query's score of
//! an article is then the sum over its terms of `idf(term) × impact`, so
//! each term's postings can be read in impact order and cut off early.

use std::collections::BTreeMap;

/// A title term counts this many body terms.
pub const TITLE_WEIGHT: u32 = 3;
/// BM25's term-frequency saturation.
const K1: f64 = 1.2;
/// BM25's length normalisation.
const B: f64 = 0.75;
/// The document length (weighted terms) taken as average. Fixed, so that
/// an article's impacts do not change when other articles are written.
const AVG_LEN: f64 = 300.0;
/// Impacts are stored as integers, scaled by this.
pub const IMPACT_SCALE: f64 = 1000.0;
/// A term is at most this many bytes (longer ASCII words are cut).
const MAX_TERM_BYTES: usize = 32;
/// A query uses at most this many of its terms (the rarest).
pub const MAX_QUERY_TERMS: usize = 8;

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// The terms of a text in order of appearance (with repeats).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => out.push(run[0].to_string()),
            _ => out.extend(run.windows(2).map(|w| w.iter().collect::<String>())),
        }
        run.clear();
    };
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            let mut w = std::mem::take(word);
            if w.len() > MAX_TERM_BYTES {
                let mut cut = MAX_TERM_BYTES;
                while !w.is_char_boundary(cut) {
                    cut -= 1;
                }
                w.truncate(cut);
            }
            out.push(w);
        }
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_run(&mut run, &mut out);
            flush_word(&mut word, &mut out);
        }
    }
    flush_run(&mut run, &mut out);
    flush_word(&mut word, &mut out);
    out
}

/// The distinct terms of a query, in order of appearance.
pub fn query_terms(q: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for t in terms(q) {
        if !seen.contains(&t) {
            seen.push(t);
        }
    }
    seen
}

/// Each term of an article with its stored impact.
pub fn article_impacts(title: &str, body: &str) -> BTreeMap<String, i64> {
    let mut tf: BTreeMap<String, u32> = BTreeMap::new();
    let mut len = 0u32;
    for t in terms(title) {
        *tf.entry(t).or_default() += TITLE_WEIGHT;
        len += TITLE_WEIGHT;
    }
    for t in terms(body) {
        *tf.entry(t).or_default() += 1;
        len += 1;
    }
    tf.into_iter().map(|(t, f)| (t, impact(f, len))).collect()
}

/// BM25's term-frequency part for a (weighted) frequency in a document of
/// `len` weighted terms, scaled to an integer.
pub fn impact(tf: u32, len: u32) -> i64 {
    let tf = f64::from(tf);
    let norm = K1 * (1.0 - B + B * f64::from(len) / AVG_LEN);
    (tf * (K1 + 1.0) / (tf + norm) * IMPACT_SCALE).round() as i64
}

/// BM25's inverse document frequency of a term held by `df` of `n` articles.
pub fn idf(n: i64, df: i64) -> f64 {
    let (n, df) = (n.max(df).max(1) as f64, df.max(0) as f64);
    ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn two_character_words_are_terms() {
        let t = terms("如何申请退款？物流信息查询 VIP客户 App2.0");
        for w in ["退款", "物流", "申请", "查询", "vip", "客户", "app2", "0"] {
            assert!(t.contains(&w.to_string()), "{w} in {t:?}");
        }
        assert_eq!(terms("退"), vec!["退".to_string()]);
    }

    #[test]
    fn the_title_weighs_more_and_long_bodies_less() {
        let in_title = article_impacts("退款流程", "请联系客服处理。")["退款"];
        let in_body = article_impacts("常见问题", "退款请联系客服处理。")["退款"];
        assert!(in_title > in_body, "{in_title} > {in_body}");
        let short = article_impacts("说明", "退款")["退款"];
        let long = article_impacts("说明", &format!("退款{}", "说明文字".repeat(200)))["退款"];
        assert!(short > long);
        assert!(idf(10_000, 3) > idf(10_000, 3_000));
    }

    proptest! {
        #[test]
        fn every_cjk_pair_of_a_text_is_one_of_its_terms(s in "[退款物流发票售后查询维修a-z ]{0,40}") {
            let t = terms(&s);
            let chars: Vec<char> = s.chars().collect();
            for w in chars.windows(2) {
                if is_cjk(w[0]) && is_cjk(w[1]) {
                    let pair: String = w.iter().collect();
                    prop_assert!(t.contains(&pair));
                }
            }
            // A query cut from the text finds only terms of the text.
            for q in query_terms(&s) {
                prop_assert!(t.contains(&q));
            }
        }
    }
}
