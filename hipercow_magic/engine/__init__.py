"""Operations over task records and drivers: creating, submitting, statuses, retries, listing,
purging, bundles and provisioning checks. Returns data; prints nothing.
"""
