"""A faithful 1C:Enterprise 8.3 simulator: the OData publication (``standard.odata``) and a SOAP web
service of a small 1C:Бухгалтерия, over real HTTP, with switchable faults. See docs/onec.md."""

from sandbox.onec.faults import Faults
from sandbox.onec.seed import Accountant, seed_counterparties, seed_demo, seed_nomenclature, seed_reference
from sandbox.onec.server import OneCSimulator

__all__ = ["Accountant", "Faults", "OneCSimulator", "seed_counterparties", "seed_demo", "seed_nomenclature",
           "seed_reference"]
