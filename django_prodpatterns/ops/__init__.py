"""Operations on a deployment's database: roles and set-up, the drift check, the migrate
lock watcher and the migration linter."""
