"""The Kafka source: change envelopes (Debezium, Maxwell, Canal, native) consumed in a consumer group."""
