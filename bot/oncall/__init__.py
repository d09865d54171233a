"""On-call schedules as code: the file format, who is on call, overrides and handoffs."""
