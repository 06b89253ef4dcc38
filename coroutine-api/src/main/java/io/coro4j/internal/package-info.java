/** Implementation details shared between coro4j's packages; not an API, may change in any release. */
package io.coro4j.internal;
