"""Faust, extended for this pipeline: batch agents, a Kafka transport, the worker's start order.

Private Faust and aiokafka members are used here and nowhere else.
"""
