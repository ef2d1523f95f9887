"""Operations on a deployment's database: role and database set-up."""
