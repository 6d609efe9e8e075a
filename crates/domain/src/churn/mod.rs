//! Churn and repeat-purchase models: who is still a customer, and how much
//! more will they buy. Pure arithmetic on purchase histories.

pub mod bgnbd;
