"""Events on the wire: Avro single-object encoding, the envelope API and the Faust codec."""

__all__: list[str] = []
