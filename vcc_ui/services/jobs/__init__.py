"""The job engine: a fair queue, live state, one run per server slot, behind the JobManager facade."""

from vcc_ui.services.jobs.manager import JobManager
from vcc_ui.services.jobs.types import AdmissionCheck, JobView, SubmitError

__all__ = ['AdmissionCheck', 'JobManager', 'JobView', 'SubmitError']
