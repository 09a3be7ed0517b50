"""The pure decision core: no boto3, no clock reads, no environment reads.

Everything here takes `now` as an aware UTC datetime and pydantic models in, and returns models out.
"""
