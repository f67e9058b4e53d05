"""The exchange engine: pure Python (no Django). Identifiers, the signed global configuration, the request
hash, the hash-chained message log, the city CA and the gateway process itself."""
