//! Search-attribute administration: which of the carts' attributes the namespace lacks.

use super::{CartClient, ClientError};

impl CartClient {
    /// The carts' search attributes the namespace lacks, with their types (none missing: the
    /// carts can keep them; see [`crate::workflow::search`]).
    pub async fn missing_search_attributes(
        &self,
    ) -> Result<Vec<(&'static str, &'static str)>, ClientError> {
        let request = temporalio_common::protos::temporal::api::operatorservice::v1::ListSearchAttributesRequest {
            namespace: self.client.options().namespace.clone(),
        };
        let mut service = self.client.connection().operator_service();
        let registered = service
            .list_search_attributes(tonic::Request::new(request))
            .await
            .map_err(ClientError::temporal)?
            .into_inner()
            .custom_attributes;
        Ok(crate::workflow::search::ALL
            .into_iter()
            .filter(|(name, _)| !registered.contains_key(*name))
            .collect())
    }
}
