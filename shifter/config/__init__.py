"""The configuration: a YAML file (``-f shift.yaml``) merged with flags, validated by pydantic.

Precedence: flags > file > defaults. Every error names the field path and what was expected
and is raised as ``ConfigError`` (exit 2) before anything in the cluster is touched.

The package: ``base`` (the base model, ``Duration``), ``analysis``, ``deploy`` (before and
after the traffic shift), ``models`` (``Config``, ``Notify``) and ``load`` (file, flags,
validation); every public name is re-exported here.
"""

from shifter.config.analysis import (
    Analysis,
    CustomCheck,
    PrometheusAuth,
)
from shifter.config.base import (
    Duration,
)
from shifter.config.deploy import (
    AfterPromotion,
    AfterRevert,
    Deploy,
    PreTraffic,
    Preview,
    Smoke,
)
from shifter.config.load import (
    build_config,
    check_environment,
    check_plan,
    describe_error,
    field_path,
    load_config,
    load_file,
    merge,
    plan_error,
)
from shifter.config.models import (
    Config,
    FailureLimits,
    Notify,
    split_gates,
)

__all__ = [
    "AfterPromotion",
    "AfterRevert",
    "Analysis",
    "Config",
    "CustomCheck",
    "Deploy",
    "Duration",
    "FailureLimits",
    "Notify",
    "PreTraffic",
    "Preview",
    "PrometheusAuth",
    "Smoke",
    "build_config",
    "check_environment",
    "check_plan",
    "describe_error",
    "field_path",
    "load_config",
    "load_file",
    "merge",
    "plan_error",
    "split_gates",
]
