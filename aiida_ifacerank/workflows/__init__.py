"""Work chains of aiida-ifacerank."""
