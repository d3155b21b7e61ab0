"""AWS checks: access control, password policy, encryption, backups and audit logging over boto3 facts."""
