"""Evaluations off the ack path: the worker that runs them, the chart, where base models answer from."""
