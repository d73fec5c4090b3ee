//! The cart workflow against a real Temporal dev server, driven through `CartClient`, the same
//! typed handles the command line uses.

mod scenarios;
