"""Active Directory checks: domain and fine-grained password policy, account flags, privilege, krbtgt."""
