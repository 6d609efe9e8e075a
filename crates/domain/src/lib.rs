//! Guanxi's business rules. Everything here is pure: no IO, no async, no SQL,
//! no HTTP, and no reading of the wall clock — `now` is always an argument
//! (see [`clock`]). Value types are parsed once at the edge and are valid
//! everywhere after that.

pub mod calendar;
pub mod churn;
pub mod clock;
pub mod communication;
pub mod complaint;
pub mod contact;
pub mod customer;
pub mod knowledge;
pub mod kpi;
pub mod lang;
pub mod money;
pub mod order;
pub mod outreach;
pub mod plan;
pub mod segment;
pub mod ticket;
pub mod user;
pub mod validation;

pub use clock::{Clock, SystemClock, TestClock};
pub use lang::Lang;
pub use validation::{FieldError, Issue, ValidationErrors};
