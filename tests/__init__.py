"""Tests of aiida-ifacerank; ``tests.models`` holds the models they build."""
