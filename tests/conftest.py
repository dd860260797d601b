"""Suite-wide fixtures. Tests talk to the real PostgreSQL, Redis and Kafka-protocol broker that
`make test` starts (or that the environment names); nothing here mocks them."""
