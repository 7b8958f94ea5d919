//! The routing core: upstream connections, streaming, fan-out and cancellation. Knows nothing
//! about terminals; consumers talk to it through typed channels (see `protocol`).

pub mod account;
pub mod attach;
pub mod catalog;
pub mod compare;
pub mod decimal;
pub mod error;
pub mod protocol;
pub mod provider;
pub mod quota;
pub mod room;
pub mod router;
pub mod sanitize;
pub mod store;
pub mod structured;
pub mod tools;
