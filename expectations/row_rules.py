"""Per-row rules on a large relation, counted by aggregate metrics: one scan for all its rules.

GX's column-map expectations (ExpectColumnValuesToBeInSet, ...ToBeBetween) count the rows
breaking a rule as `sum(case when ... then 1 else 0 end)`, beside a `count(*)` of the relation
that GX runs as a query of its own; on the 10 million loaded reports that is two full reads and a
CASE per rule per row (bench/gate_bench.py). The expectations here count the same things (the
rows judged, the missing values, the rows breaking the rule) as `count(*) filter (where ...)`
aggregate metrics, which GX bundles into the relation's one aggregate query, and nothing else.

A failed rule's offending rows come from its per-row twin (`per_row_twin`): the GX map
expectation of the same rule, which the gate's second pass runs only for failed rules, with the
columns that trace each row to its feed file and line.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import great_expectations.expectations as gxe
import sqlalchemy as sa
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.metric_function_types import MetricPartialFunctionTypes
from great_expectations.execution_engine import ExecutionEngine, SqlAlchemyExecutionEngine
from great_expectations.expectations.expectation import ColumnAggregateExpectation
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
    column_aggregate_partial,
)
from great_expectations.expectations.metrics.metric_provider import metric_partial
from great_expectations.expectations.metrics.table_metric_provider import TableMetricProvider
from great_expectations.validator.metric_configuration import MetricConfiguration

from expectations.registry_membership import (
    CodeSet,
    ExpectColumnValuesToBeInRegistry,
    in_registry,
)

_ROWS = "table.rule.rows"
_MISSING = "column.rule.missing"


class _RuleCount(ColumnAggregateMetricProvider):
    """A count the relation's one aggregate query computes.

    GX makes every column aggregate wait for `table.row_count`, a query of its own (a full read
    of the relation) that the SQL partials never use; these counts include the rows themselves
    (`column.rule.rows`), so they do without it.
    """

    @classmethod
    def _get_evaluation_dependencies(
        cls, metric, configuration=None, execution_engine=None, runtime_configuration=None
    ):
        dependencies = super()._get_evaluation_dependencies(
            metric=metric,
            configuration=configuration,
            execution_engine=execution_engine,
            runtime_configuration=runtime_configuration,
        )
        dependencies.pop("table.row_count", None)
        return dependencies


class RuleRows(TableMetricProvider):
    """The rows a rule judges: every row of the relation (counted once for all its rules)."""

    metric_name = _ROWS

    @metric_partial(
        engine=SqlAlchemyExecutionEngine,
        partial_fn_type=MetricPartialFunctionTypes.AGGREGATE_FN,
        domain_type=MetricDomainTypes.TABLE,
    )
    def _sqlalchemy(
        cls,
        execution_engine,
        metric_domain_kwargs,
        metric_value_kwargs,
        metrics,
        runtime_configuration,
    ):
        return sa.func.count(), metric_domain_kwargs, {}

    @classmethod
    def _get_evaluation_dependencies(
        cls, metric, configuration=None, execution_engine=None, runtime_configuration=None
    ):
        # waiting for the column list, as the rule counts do, puts it in their aggregate query
        dependencies = super()._get_evaluation_dependencies(
            metric=metric,
            configuration=configuration,
            execution_engine=execution_engine,
            runtime_configuration=runtime_configuration,
        )
        dependencies["table.columns"] = MetricConfiguration(
            metric_name="table.columns",
            metric_domain_kwargs=metric.metric_domain_kwargs,
            metric_value_kwargs=None,
        )
        return dependencies


class RuleMissing(_RuleCount):
    """Rows with no value in the column (a rule judges values, not their absence)."""

    metric_name = _MISSING

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, **kwargs):
        return sa.func.count().filter(column.is_(None))


class RuleOutsideSet(_RuleCount):
    metric_name = "column.rule.outside_set"
    value_keys = ("value_set",)

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, value_set, **kwargs):
        return sa.func.count().filter(column.is_not(None), column.not_in(value_set))


class RuleBelowMinimum(_RuleCount):
    metric_name = "column.rule.below_minimum"
    value_keys = ("min_value",)

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, min_value, **kwargs):
        return sa.func.count().filter(column < min_value)


class RuleOutsideRegistry(_RuleCount):
    metric_name = "column.rule.outside_registry"
    value_keys = ("registry_dir", "code_set", "registry_sha256")

    @column_aggregate_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column, registry_dir, code_set, registry_sha256, **kwargs):
        known = in_registry(column, registry_dir, code_set, registry_sha256)
        return sa.func.count().filter(column.is_not(None), sa.not_(known))


class _RowRule(ColumnAggregateExpectation):
    """Success when no row with a value breaks the rule; the result says how many did."""

    breaking_metric: ClassVar[str]

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: ExecutionEngine | None = None,
    ) -> dict:
        rows, missing = metrics[_ROWS], metrics[_MISSING]
        unexpected = metrics[self.breaking_metric]
        judged = rows - missing
        return {
            "success": unexpected == 0,
            "result": {
                "element_count": rows,
                "missing_count": missing,
                "unexpected_count": unexpected,
                "unexpected_percent": 100 * unexpected / judged if judged else 0.0,
            },
        }

    @abstractmethod
    def per_row_twin(self) -> gxe.Expectation:
        """The GX map expectation of the same rule, for fetching the offending rows."""


class ExpectEveryValueInSet(_RowRule):
    """Expect every value of the column to be one of `value_set` (nulls are not judged)."""

    value_set: list[Any]

    breaking_metric = "column.rule.outside_set"
    metric_dependencies = (_ROWS, _MISSING, "column.rule.outside_set")
    success_keys = ("value_set",)
    args_keys = ("column", "value_set")

    def per_row_twin(self) -> gxe.Expectation:
        return gxe.ExpectColumnValuesToBeInSet(column=self.column, value_set=self.value_set)


class ExpectEveryValueAtLeast(_RowRule):
    """Expect every value of the column to be `min_value` or more (nulls are not judged)."""

    min_value: int

    breaking_metric = "column.rule.below_minimum"
    metric_dependencies = (_ROWS, _MISSING, "column.rule.below_minimum")
    success_keys = ("min_value",)
    args_keys = ("column", "min_value")

    def per_row_twin(self) -> gxe.Expectation:
        return gxe.ExpectColumnValuesToBeBetween(column=self.column, min_value=self.min_value)


class ExpectEveryValueInRegistry(_RowRule):
    """Expect every value of the column to be a code of the registry file of record."""

    registry_dir: str
    code_set: CodeSet
    registry_sha256: str

    breaking_metric = "column.rule.outside_registry"
    metric_dependencies = (_ROWS, _MISSING, "column.rule.outside_registry")
    success_keys = ("registry_dir", "code_set", "registry_sha256")
    args_keys = ("column", "registry_dir", "code_set", "registry_sha256")

    def per_row_twin(self) -> gxe.Expectation:
        return ExpectColumnValuesToBeInRegistry(
            column=self.column,
            registry_dir=self.registry_dir,
            code_set=self.code_set,
            registry_sha256=self.registry_sha256,
        )
