package store

// DemoPassword is the password of every demo user. It exists only in demo
// databases.
const DemoPassword = "gatehouse-demo"

// DemoUsers are the logins of the demo database, for the start-up banner.
var DemoUsers = []struct{ Email, Role string }{
	{"admin@example.com", RoleAdministrator},
	{"operator@example.com", RoleOperator},
	{"viewer@example.com", RoleViewer},
}
