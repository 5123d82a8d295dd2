"""Format adapters: SBML (and, later, FHIR) for the model and its results."""
