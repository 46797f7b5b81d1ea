package handlers

import (
	"context"
	"time"

	"gatehouse/store"
)

// Store is what the handlers need of an engine (store/sqlite, …): the
// accounts' tokens, their audit trail, users, sessions and the login
// throttle. It is declared here, by its consumer, and the engines fulfil
// it.
type Store interface {
	SessionStorage
	FeedStore
	Now() time.Time
	Ping(ctx context.Context) error
	OnTokenChange(fn func(id string))

	User(ctx context.Context, id string) (store.User, error)
	Authenticate(ctx context.Context, email, password string) (store.User, error)
	AttemptLogin(ctx context.Context, keys ...string) (time.Duration, error)
	ForgiveLogin(ctx context.Context, forget, forgiveOne []string) error

	Token(ctx context.Context, accountID, id string) (store.Token, error)
	ListTokens(ctx context.Context, accountID string, q store.TokenQuery) (store.TokenPage, error)
	TokenStatuses(ctx context.Context, accountID string, ids []string) (map[string]string, error)
	DeletedToken(ctx context.Context, accountID, id string) (store.DeletedToken, error)
	TokensNamed(ctx context.Context, accountID, prefix string, limit int) ([]store.TokenMatch, error)
	AccountUsers(ctx context.Context, accountID string) ([]store.User, error)
	CreateToken(ctx context.Context, sealer *store.Sealer, actor store.Actor, accountID string, nt store.NewToken) (store.Token, string, error)
	UpdateToken(ctx context.Context, actor store.Actor, accountID, id string, version int64, u store.TokenUpdate) (store.Token, bool, error)
	EnableToken(ctx context.Context, actor store.Actor, accountID, id string, version int64) (store.Token, error)
	DisableToken(ctx context.Context, actor store.Actor, accountID, id string, version int64, reason string) (store.Token, error)
	DeleteToken(ctx context.Context, actor store.Actor, accountID, id string, version int64) error
	RevealToken(ctx context.Context, sealer *store.Sealer, actor store.Actor, accountID, id, purpose string) (string, error)
	LastChange(ctx context.Context, accountID, tokenID string) (store.AuditRecord, error)
	TokenLogo(ctx context.Context, accountID, id string) (string, []byte, error)
	SaveLogoUpload(ctx context.Context, userID string, data []byte) (string, error)
	LogoUpload(ctx context.Context, userID, id string) (string, []byte, error)
	SaveTokenDraft(ctx context.Context, d store.TokenDraft) error
	TokenDraft(ctx context.Context, userID, id string) (store.TokenDraft, error)

	ListAudit(ctx context.Context, accountID string, q store.AuditQuery) (store.AuditPage, error)
	ListAuditOffset(ctx context.Context, accountID string, q store.AuditOffsetQuery) ([]store.AuditRecord, int, error)
	EachAudit(ctx context.Context, accountID string, q store.AuditQuery, fn func(store.AuditRecord) error) error
	AuditRecordByID(ctx context.Context, accountID, id string) (store.AuditRecord, error)

	TokenForAuth(ctx context.Context, id string) (store.AuthToken, error)
	RecordAccesses(ctx context.Context, accesses []store.Access) error
	RecordRejections(ctx context.Context, rs []store.Rejection) error
	RecordPendingRejections(ctx context.Context, now time.Time) (int, error)
}

// SessionStorage keeps the console's sessions on the server.
type SessionStorage interface {
	Now() time.Time
	CreateSession(ctx context.Context, id, userID, data string) error
	Session(ctx context.Context, id string) (store.Session, error)
	UpdateSession(ctx context.Context, id, userID, data string) error
	TouchSession(ctx context.Context, id string) error
	DeleteSession(ctx context.Context, id string) error
}
