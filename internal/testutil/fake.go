package testutil

import (
	"context"

	kruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// FakeClient returns a builder of fake clients with Scheme's kinds that
// hold objs.
func FakeClient(objs ...client.Object) *fake.ClientBuilder {
	return fake.NewClientBuilder().WithScheme(Scheme()).WithObjects(objs...)
}

// Op is a kind of request that Hook sees.
type Op string

// The requests Hook sees. OpSubResourcePatch is a Patch of any subresource
// (status, mostly).
const (
	OpGet              Op = "Get"
	OpList             Op = "List"
	OpCreate           Op = "Create"
	OpUpdate           Op = "Update"
	OpPatch            Op = "Patch"
	OpDelete           Op = "Delete"
	OpDeleteAllOf      Op = "DeleteAllOf"
	OpSubResourcePatch Op = "SubResourcePatch"
)

// Hook returns interceptor functions that call before with every Get, List,
// Create, Update, Patch, Delete, DeleteAllOf and subresource Patch and its
// object (the list of a List), and then make the request unless before
// returns an error, which is then the request's.
func Hook(before func(op Op, obj kruntime.Object) error) interceptor.Funcs {
	run := func(op Op, obj kruntime.Object, do func() error) error {
		if err := before(op, obj); err != nil {
			return err
		}
		return do()
	}
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return run(OpCreate, obj, func() error { return c.Create(ctx, obj, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return run(OpDelete, obj, func() error { return c.Delete(ctx, obj, opts...) })
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			return run(OpDeleteAllOf, obj, func() error { return c.DeleteAllOf(ctx, obj, opts...) })
		},
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			return run(OpGet, obj, func() error { return c.Get(ctx, key, obj, opts...) })
		},
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			return run(OpList, list, func() error { return c.List(ctx, list, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return run(OpPatch, obj, func() error { return c.Patch(ctx, obj, patch, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return run(OpSubResourcePatch, obj, func() error { return c.SubResource(sub).Patch(ctx, obj, patch, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return run(OpUpdate, obj, func() error { return c.Update(ctx, obj, opts...) })
		},
	}
}

// CountRequests are interceptor functions that call count before every
// request that Hook sees and then make it.
func CountRequests(count func()) interceptor.Funcs {
	return Hook(func(Op, kruntime.Object) error {
		count()
		return nil
	})
}

// CountWrites are interceptor functions that call count before every
// Create, Update, Patch and Delete (not the status subresource's) and then
// do it.
func CountWrites(count func()) interceptor.Funcs {
	return Hook(func(op Op, _ kruntime.Object) error {
		switch op {
		case OpCreate, OpUpdate, OpPatch, OpDelete:
			count()
		}
		return nil
	})
}
