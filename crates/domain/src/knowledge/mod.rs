//! The knowledge base and the script library (SPEC K1–K3): how article text
//! is cut into search terms and ranked ([`search`]), and the scripts per
//! scenario and step with their variables ([`script`]).

pub mod script;
pub mod search;

use crate::customer::vocabulary;
use crate::validation::Issue;

vocabulary!(
    /// What kind of knowledge an article holds.
    ArticleCategory {
        Solution = "solution", "问题解决方案", "Solution";
        Case = "case", "典型案例", "Typical case";
        Sop = "sop", "服务SOP", "Service SOP";
        Policy = "policy", "政策与规则", "Policy";
        Product = "product", "产品知识", "Product knowledge";
        Guide = "guide", "图文指引", "Illustrated guide";
    }
);
