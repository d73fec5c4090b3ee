//! The cart workflow against a real Temporal dev server, driven through `CartClient`, the same
//! typed handles the command line uses.

mod compat;
mod continue_as_new;
mod ordering;
mod orders;
mod payments;
mod rejections;
mod replay;
mod scenarios;
mod timers;
