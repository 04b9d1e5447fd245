package v1alpha1

import (
	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	dynamicbackend "github.com/clientreg/clientreg/controllers/backend/dynamic"
	"github.com/clientreg/clientreg/controllers/backend/metadatadoc"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
)

// testBackends are the built-in backends as the webhook sees them: only
// their validation and defaults are used, which need none of their clients.
var testBackends = new(backend.Registry).
	MustRegister(oauthv1alpha1.MemberStateless, &statelessbackend.Backend{}).
	MustRegister(oauthv1alpha1.MemberDynamicRegistration, &dynamicbackend.Backend{}).
	MustRegister(oauthv1alpha1.MemberClientIDMetadataDocument, &metadatadoc.Backend{})
