"""The student data model (records), its code sets, field metadata and data dictionary."""
