"""The product's demo project: a churn-prediction repository built with real git, DVC and MLflow."""

from apps.core.demo.builder import DemoSummary, build_demo_project, read_completed_demo, remove_demo

__all__ = ["DemoSummary", "build_demo_project", "read_completed_demo", "remove_demo"]
