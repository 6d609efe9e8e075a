//! Urgency grading of a complaint (SPEC P2, 紧急程度): impact (safety
//! keywords, a batch of similar complaints) and the customer's emotion,
//! scored on the Chinese text with jieba-rs word segmentation and a small
//! lexicon of negative and angry expressions and intensifiers. Every point
//! of the score names the word that gave it, so that an agent sees why a
//! complaint was graded as it was (and may override it with a reason).
//!
//! jieba-rs: the maintained Rust port of jieba, with its dictionary
//! embedded; it segments 太糟糕了 into 太 / 糟糕 / 了, so that an intensifier
//! is told from the word it strengthens.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use jieba_rs::Jieba;
use serde::{Deserialize, Serialize};

use super::Urgency;

/// Words that make a complaint a safety matter (urgent whatever the tone).
pub const SAFETY_WORDS: &[&str] = &[
    "漏电",
    "触电",
    "起火",
    "着火",
    "失火",
    "自燃",
    "爆炸",
    "冒烟",
    "烧焦",
    "烫伤",
    "受伤",
    "伤人",
    "中毒",
    "过敏",
    "窒息",
    "安全隐患",
];

/// Negative expressions, one point each.
const NEGATIVE: &[&str] = &[
    "不满",
    "不满意",
    "失望",
    "糟糕",
    "差",
    "太差",
    "很差",
    "垃圾",
    "坑",
    "坑人",
    "敷衍",
    "推诿",
    "拖延",
    "欺骗",
    "骗",
    "骗子",
    "恶心",
    "离谱",
    "无语",
    "闹心",
    "烦",
    "难用",
    "态度差",
    "没人管",
    "不处理",
    "不负责",
    "耽误",
    "损失",
    "破损",
    "故障",
    "质量问题",
];

/// Angry expressions and threats to go further, two points each.
const ANGRY: &[&str] = &[
    "投诉",
    "消协",
    "消费者协会",
    "12315",
    "曝光",
    "媒体",
    "起诉",
    "律师",
    "法院",
    "举报",
    "愤怒",
    "气死",
    "生气",
    "忍无可忍",
    "退钱",
    "赔偿",
    "工商",
    "监管",
];

/// Intensifiers: the next emotional word counts half again.
const INTENSIFIERS: &[&str] = &[
    "太", "很", "非常", "特别", "极其", "十分", "真", "真的", "实在", "简直", "完全", "根本", "再", "一直", "总是",
    "又",
];

/// Words that do not describe a problem (left out of the similarity signature).
const STOP: &[&str] = &[
    "我们", "你们", "他们", "这个", "那个", "一个", "已经", "还是", "但是", "因为", "所以", "没有", "什么", "怎么",
    "可以", "不是", "就是", "现在", "今天", "昨天", "客户", "我要", "希望", "要求", "处理", "问题",
];

fn jieba() -> &'static Jieba {
    static J: OnceLock<Jieba> = OnceLock::new();
    J.get_or_init(|| {
        let mut j = Jieba::new();
        // The lexicon's words are kept whole by the segmenter.
        for w in SAFETY_WORDS.iter().chain(NEGATIVE).chain(ANGRY) {
            j.add_word(w, Some(100_000), None);
        }
        j
    })
}

/// The words of a text, as segmented.
pub fn words(text: &str) -> Vec<&str> {
    jieba().cut(text, true).into_iter().map(|t| t.word).collect()
}

/// One word's part of the emotion score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    /// The word as written, with its intensifier when one raised it (太糟糕).
    pub word: String,
    /// Points in tenths (15 = 1.5).
    pub points: u32,
}

/// The emotion score of a text and what made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmotionScore {
    /// Points in tenths.
    pub score: u32,
    pub words: Vec<Contribution>,
}

impl EmotionScore {
    /// The score as a decimal for people (`3.5`).
    pub fn display(&self) -> String {
        format!("{}.{}", self.score / 10, self.score % 10)
    }
}

fn is_exclamation(w: &str) -> bool {
    w.chars().all(|c| c == '！' || c == '!')
}

/// Scores the customer's emotion: negative words 1, angry words 2, an
/// intensifier before one of them ×1.5, each exclamation mark 0.5 (at most 1.5).
pub fn emotion(text: &str) -> EmotionScore {
    let tokens = words(text);
    let mut out = EmotionScore::default();
    let mut boost: Option<&str> = None;
    let mut bangs = 0u32;
    for w in tokens {
        let base = if ANGRY.contains(&w) {
            20
        } else if NEGATIVE.contains(&w) {
            10
        } else {
            0
        };
        if base > 0 {
            let (word, points) = match boost.take() {
                Some(i) => (format!("{i}{w}"), base * 3 / 2),
                None => (w.to_string(), base),
            };
            out.score += points;
            out.words.push(Contribution { word, points });
        } else if INTENSIFIERS.contains(&w) {
            boost = Some(w);
        } else if is_exclamation(w) {
            bangs += u32::try_from(w.chars().count()).unwrap_or(u32::MAX);
        } else if !w.trim().is_empty() && !matches!(w, "了" | "的" | "啊" | "吧" | "呢" | "吗") {
            boost = None;
        }
    }
    let bang_points = (bangs * 5).min(15);
    if bang_points > 0 {
        out.score += bang_points;
        out.words.push(Contribution { word: "！".repeat(bangs.min(3) as usize), points: bang_points });
    }
    out
}

/// The safety words in a text, in lexicon order.
pub fn safety_words(text: &str) -> Vec<String> {
    SAFETY_WORDS.iter().filter(|w| text.contains(**w)).map(|w| (*w).to_string()).collect()
}

/// From this emotion score (tenths) a complaint is urgent.
pub const URGENT_EMOTION: u32 = 60;
/// From this emotion score (tenths) a complaint is general rather than routine.
pub const GENERAL_EMOTION: u32 = 25;

/// Why a complaint got its urgency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grading {
    pub urgency: Urgency,
    /// Safety words found (any makes it urgent).
    pub safety_words: Vec<String>,
    pub emotion: EmotionScore,
    /// How many customers' similar complaints the batch holds (0: no batch).
    pub batch_size: u32,
}

impl Grading {
    /// The reasons in words.
    pub fn reasons(&self, lang: crate::Lang) -> Vec<String> {
        let mut v = Vec::new();
        if !self.safety_words.is_empty() {
            v.push(match lang {
                crate::Lang::Zh => format!("安全问题：{}", self.safety_words.join("、")),
                crate::Lang::En => format!("Safety: {}", self.safety_words.join(", ")),
            });
        }
        if self.batch_size > 0 {
            v.push(match lang {
                crate::Lang::Zh => format!("批量客诉：{} 位客户的相似投诉", self.batch_size),
                crate::Lang::En => format!("Batch complaint: similar complaints from {} customers", self.batch_size),
            });
        }
        let words: Vec<String> =
            self.emotion.words.iter().map(|c| format!("{}(+{}.{})", c.word, c.points / 10, c.points % 10)).collect();
        v.push(match lang {
            crate::Lang::Zh => format!(
                "情绪分 {}：{}",
                self.emotion.display(),
                if words.is_empty() { "无".into() } else { words.join(" ") }
            ),
            crate::Lang::En => format!(
                "Emotion {}: {}",
                self.emotion.display(),
                if words.is_empty() { "none".into() } else { words.join(" ") }
            ),
        });
        v
    }
}

/// The thresholds an administrator may change (SPEC P2): the emotion
/// scores that make a complaint urgent or general, the safety words, and
/// what makes a batch (批量客诉) — how many customers within how many hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rules {
    /// From this emotion score (tenths) a complaint is urgent.
    pub urgent_emotion: u32,
    /// From this emotion score (tenths) a complaint is general rather than routine.
    pub general_emotion: u32,
    /// Words that make a complaint a safety matter (substring match).
    pub safety_words: Vec<String>,
    /// Similar complaints within this many hours are compared.
    pub batch_window_hours: i64,
    /// How many customers' similar complaints make a batch.
    pub batch_customers: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            urgent_emotion: URGENT_EMOTION,
            general_emotion: GENERAL_EMOTION,
            safety_words: SAFETY_WORDS.iter().map(|w| (*w).to_string()).collect(),
            batch_window_hours: 72,
            batch_customers: 3,
        }
    }
}

/// The rules as typed in a form or a JSON body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RulesInput {
    /// A score such as `6` or `2.5`.
    pub urgent_emotion: String,
    pub general_emotion: String,
    /// Separated by new lines, commas or 、.
    pub safety_words: String,
    pub batch_window_hours: String,
    pub batch_customers: String,
}

/// A score with at most one decimal (`2.5`) in tenths, 0.5 to 100.
fn parse_score(raw: &str) -> Result<u32, crate::Issue> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(crate::Issue::Required);
    }
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, "0"));
    if whole.is_empty() || frac.len() != 1 || !whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return Err(crate::Issue::NotAllowed);
    }
    let tenths = whole.parse::<u32>().map_err(|_| crate::Issue::OutOfRange)?.saturating_mul(10)
        + frac.parse::<u32>().map_err(|_| crate::Issue::NotAllowed)?;
    if (5..=1000).contains(&tenths) { Ok(tenths) } else { Err(crate::Issue::OutOfRange) }
}

fn parse_int(raw: &str, range: std::ops::RangeInclusive<i64>) -> Result<i64, crate::Issue> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(crate::Issue::Required);
    }
    let n = raw.parse::<i64>().map_err(|_| crate::Issue::NotAllowed)?;
    if range.contains(&n) { Ok(n) } else { Err(crate::Issue::OutOfRange) }
}

impl Rules {
    /// Checks every field; the errors name each field.
    pub fn parse(i: &RulesInput) -> Result<Rules, crate::ValidationErrors> {
        let mut e = crate::ValidationErrors::new();
        let urgent = e.check("urgent_emotion", parse_score(&i.urgent_emotion));
        let general = e.check("general_emotion", parse_score(&i.general_emotion));
        if let (Some(u), Some(g)) = (urgent, general)
            && g >= u
        {
            e.add("general_emotion", crate::Issue::NotBelow { limit: format!("{}.{}", u / 10, u % 10) });
        }
        let mut words: Vec<String> = Vec::new();
        for w in i.safety_words.split(['\n', ',', '，', '、', ';', '；']).map(str::trim).filter(|w| !w.is_empty()) {
            if w.chars().count() > 20 {
                e.add("safety_words", crate::Issue::TooLong { max: 20 });
                break;
            }
            if !words.iter().any(|x| x == w) {
                words.push(w.to_string());
            }
        }
        if words.is_empty() {
            e.add("safety_words", crate::Issue::Required);
        } else if words.len() > 200 {
            e.add("safety_words", crate::Issue::TooMany { max: 200 });
        }
        let window = e.check("batch_window_hours", parse_int(&i.batch_window_hours, 1..=720));
        let customers = e.check("batch_customers", parse_int(&i.batch_customers, 2..=100));
        match (urgent, general, window, customers) {
            (Some(urgent_emotion), Some(general_emotion), Some(w), Some(c)) if e.is_empty() => Ok(Rules {
                urgent_emotion,
                general_emotion,
                safety_words: words,
                batch_window_hours: w,
                batch_customers: u32::try_from(c).unwrap_or(3),
            }),
            _ => Err(e),
        }
    }

    /// The rules as a form shows them.
    pub fn to_input(&self) -> RulesInput {
        RulesInput {
            urgent_emotion: format!("{}.{}", self.urgent_emotion / 10, self.urgent_emotion % 10),
            general_emotion: format!("{}.{}", self.general_emotion / 10, self.general_emotion % 10),
            safety_words: self.safety_words.join("、"),
            batch_window_hours: self.batch_window_hours.to_string(),
            batch_customers: self.batch_customers.to_string(),
        }
    }

    fn urgency(&self, safety: bool, score: u32, batch_size: u32) -> Urgency {
        let by_emotion = if score >= self.urgent_emotion {
            Urgency::Urgent
        } else if score >= self.general_emotion {
            Urgency::General
        } else {
            Urgency::Routine
        };
        if safety {
            Urgency::Urgent
        } else if batch_size > 0 {
            by_emotion.raised()
        } else {
            by_emotion
        }
    }
}

/// Grades a complaint with the default rules.
pub fn grade(text: &str, batch_size: u32) -> Grading {
    grade_with(text, batch_size, &Rules::default())
}

/// Grades a complaint: a safety word makes it urgent; otherwise the
/// emotion score chooses, and a batch raises the result one step.
pub fn grade_with(text: &str, batch_size: u32, rules: &Rules) -> Grading {
    let safety_words: Vec<String> = rules.safety_words.iter().filter(|w| text.contains(w.as_str())).cloned().collect();
    let emotion = emotion(text);
    let urgency = rules.urgency(!safety_words.is_empty(), emotion.score, batch_size);
    Grading { urgency, safety_words, emotion, batch_size }
}

impl Grading {
    /// The same complaint found part of a batch of `customers`: its
    /// urgency raised one step from what its words gave (once: a grading
    /// already in a batch only counts the customers anew).
    pub fn in_batch(&self, customers: u32, rules: &Rules) -> Grading {
        let mut g = self.clone();
        g.batch_size = customers;
        g.urgency = rules.urgency(!g.safety_words.is_empty(), g.emotion.score, customers);
        g
    }
}

/// The content words of a complaint, for finding similar ones: segmented,
/// two characters or more, without stop words, sorted and unique.
pub fn signature(text: &str) -> Vec<String> {
    let set: BTreeSet<String> = words(text)
        .into_iter()
        .filter(|w| w.chars().count() >= 2 && w.chars().any(char::is_alphanumeric) && !STOP.contains(w))
        .map(|w| w.to_lowercase())
        .collect();
    set.into_iter().collect()
}

/// Whether two signatures describe the same problem: at least two shared
/// words, covering at least half of the shorter one.
pub fn similar(a: &[String], b: &[String]) -> bool {
    similar_words(a, b.iter().map(String::as_str))
}

/// [`similar`] against a signature as stored (its words joined by spaces),
/// without making a string of each word: a registration compares itself
/// with hundreds of recent complaints.
pub fn similar_to_stored(a: &[String], stored: &str) -> bool {
    similar_words(a, stored.split(' ').filter(|w| !w.is_empty()))
}

/// The rule of [`similar`]; `b`'s words are unique, as in a signature.
fn similar_words<'a>(a: &[String], b: impl Iterator<Item = &'a str>) -> bool {
    let (mut words, mut shared) = (0, 0);
    for w in b {
        words += 1;
        if a.iter().any(|x| x == w) {
            shared += 1;
        }
    }
    shared >= 2 && shared * 2 >= a.len().min(words)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_safety_word_makes_it_urgent_whatever_the_tone() {
        let g = grade("家里的电热水器用的时候漏电，插头还冒烟了", 0);
        assert_eq!(g.urgency, Urgency::Urgent);
        assert_eq!(g.safety_words, vec!["漏电", "冒烟"]);
        let g = grade("麻烦看一下，充电器起火了", 0);
        assert_eq!((g.urgency, g.safety_words), (Urgency::Urgent, vec!["起火".to_string()]));
    }

    #[test]
    fn an_angry_text_scores_higher_than_a_calm_one_and_names_its_words() {
        let angry = emotion("太糟糕了！！再不处理我就投诉到消协");
        let calm = emotion("你好，我买的水壶盖子有点松，想换一个，谢谢");
        assert!(angry.score > calm.score, "{angry:?} vs {calm:?}");
        let words: Vec<&str> = angry.words.iter().map(|c| c.word.as_str()).collect();
        assert_eq!(words, vec!["太糟糕", "再不处理", "投诉", "消协", "！！"], "{angry:?}");
        assert_eq!(angry.score, 15 + 15 + 20 + 20 + 10);
        assert_eq!(calm.score, 0);
        assert_eq!(grade("太糟糕了！！再不处理我就投诉到消协", 0).urgency, Urgency::Urgent);
        assert_eq!(grade("你好，我买的水壶盖子有点松，想换一个，谢谢", 0).urgency, Urgency::Routine);
        assert_eq!(grade("很失望，客服态度差", 0).urgency, Urgency::General);
    }

    #[test]
    fn a_batch_raises_the_urgency_one_step() {
        let calm = "你好，我买的水壶盖子有点松，想换一个";
        assert_eq!(grade(calm, 0).urgency, Urgency::Routine);
        assert_eq!(grade(calm, 5).urgency, Urgency::General);
        assert!(grade(calm, 5).reasons(crate::Lang::Zh).iter().any(|r| r.contains("批量客诉")));
    }

    #[test]
    fn administrators_rules_change_the_grading_and_are_checked_field_by_field() {
        let rules = Rules::parse(&RulesInput {
            urgent_emotion: "3".into(),
            general_emotion: "1.5".into(),
            safety_words: "异味\n变形、漏电".into(),
            batch_window_hours: "24".into(),
            batch_customers: "4".into(),
        })
        .unwrap();
        assert_eq!(rules.safety_words, vec!["异味", "变形", "漏电"]);
        assert_eq!(grade_with("冰箱有异味", 0, &rules).urgency, Urgency::Urgent);
        assert_eq!(grade("冰箱有异味", 0).urgency, Urgency::Routine);
        // 很失望 (1.5) + 态度差 (1) = 2.5: general (below 3); a threat (+2) makes it urgent.
        assert_eq!(grade_with("很失望，客服态度差", 0, &rules).urgency, Urgency::General);
        assert_eq!(grade_with("很失望，客服态度差，投诉", 0, &rules).urgency, Urgency::Urgent);
        let e = Rules::parse(&RulesInput {
            urgent_emotion: "2".into(),
            general_emotion: "2.5".into(),
            safety_words: "".into(),
            batch_window_hours: "0".into(),
            batch_customers: "x".into(),
        })
        .unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["general_emotion", "safety_words", "batch_window_hours", "batch_customers"]);
        assert_eq!(Rules::parse(&Rules::default().to_input()).unwrap(), Rules::default());
    }

    #[test]
    fn a_complaint_found_in_a_batch_later_is_raised_once() {
        let g = grade("你好，我买的水壶盖子有点松，想换一个", 0);
        assert_eq!(g.urgency, Urgency::Routine);
        let b = g.in_batch(3, &Rules::default());
        assert_eq!((b.urgency, b.batch_size), (Urgency::General, 3));
        assert_eq!(b.in_batch(5, &Rules::default()).urgency, Urgency::General, "raised once, not per new member");
    }

    #[test]
    fn similar_complaints_share_their_content_words() {
        let a = signature("新买的智能电饭煲显示屏不亮，按键没有反应");
        let b = signature("电饭煲显示屏不亮了，按键也没反应，刚买一周");
        let c = signature("快递三天了还没送到，物流信息不更新");
        assert!(similar(&a, &b), "{a:?} {b:?}");
        assert!(!similar(&a, &c), "{a:?} {c:?}");
        // The same answers against the stored form, both ways round.
        for (x, y) in [(&a, &b), (&b, &a), (&a, &c), (&c, &a), (&b, &c)] {
            assert_eq!(similar_to_stored(x, &y.join(" ")), similar(x, y), "{x:?} {y:?}");
        }
        let d = signature("电饭煲");
        assert!(!similar_to_stored(&a, &d.join(" ")), "one shared word is not enough");
    }
}
