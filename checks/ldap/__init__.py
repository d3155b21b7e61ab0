"""Directory checks that apply to OpenLDAP (and, for the transport probes, to any LDAP server)."""
