//! The domain: plain types and pure functions. Nothing here does I/O or
//! knows about sled, wasmtime or HTTP; every other module builds on it.

pub mod event;
pub mod intake;
pub mod job;
pub mod money;
pub mod notify;
pub mod order;
pub mod platform;
pub mod rule;
pub mod shipment;

/// OpenAPI schemas of the types that travel as one string (`"19.99 EUR"`,
/// `"order:delivered"`).
macro_rules! string_schema {
    ($type:ty, $description:literal, $example:literal) => {
        impl utoipa::PartialSchema for $type {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($description))
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }
        impl utoipa::ToSchema for $type {}
    };
}

string_schema!(
    money::Money,
    "An amount and its ISO 4217 currency",
    "19.99 EUR"
);
string_schema!(
    order::ChannelId,
    "A channel id: lower-case letters, digits, `-` and `_`",
    "shop-de"
);

pub(crate) use string_schema;
