//! STUB (helper C replaces): the on-disk layout.
