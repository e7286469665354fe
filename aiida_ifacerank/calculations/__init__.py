"""Calculations (CalcJobs and calcfunctions) of aiida-ifacerank."""
