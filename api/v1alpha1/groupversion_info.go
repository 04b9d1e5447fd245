// Package v1alpha1 contains the oauth.clientreg.dev/v1alpha1 API: OAuthClient,
// AuthorizationServer and ClusterAuthorizationServer.
//
// +kubebuilder:object:generate=true
// +groupName=oauth.clientreg.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of this API.
var GroupVersion = schema.GroupVersion{Group: "oauth.clientreg.dev", Version: "v1alpha1"}

// AddToScheme adds the types of this group and version to s. Registration is
// explicit (no init-time mutation of package state).
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&OAuthClient{}, &OAuthClientList{},
		&AuthorizationServer{}, &AuthorizationServerList{},
		&ClusterAuthorizationServer{}, &ClusterAuthorizationServerList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
