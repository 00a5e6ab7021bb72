"""管理画面 (admin console): one shell whose navigation other features register into."""
