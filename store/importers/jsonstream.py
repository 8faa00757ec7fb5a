"""The streaming JSON reader lives in the world layer (world/jsonstream.py) so `t2e score`
streams too; the importers take it from there."""

from world.errors import describe_json_error
from world.jsonstream import JsonStream, JsonStreamError, loads

__all__ = ["JsonStream", "JsonStreamError", "describe_json_error", "loads"]
