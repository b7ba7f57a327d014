"""Deterministic demo data: a synthetic Chengdu (areas down to buildings) and its cases."""

from etl.demo.cases import generate_cases
from etl.demo.city import DEFAULT_SEED, DemoCity, generate_city

__all__ = ["DEFAULT_SEED", "DemoCity", "generate_cases", "generate_city"]
