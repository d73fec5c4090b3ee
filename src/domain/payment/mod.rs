//! Paying for a cart: what a customer pays with ([`method`]), and what is known about a
//! checkout's payment at any moment ([`record`]).

mod method;
mod record;

pub use method::{MAX_PAYMENT_CHARS, PaymentMethod, PaymentMethodError};
pub use record::{
    Heard, Known, Observation, PaymentAnswer, PaymentRecord, PaymentTiming, SENDS, Step,
};
