import { useEffect, useState } from "react";
import { useParams } from "react-router-dom";

import { fetchComments } from "../api/client";
import { formatAuthor } from "../utils/format";

type Comment = { id: number; author: string; body: string };

export default function CommentList() {
  const { id = "" } = useParams();
  const [comments, setComments] = useState<Comment[]>([]);

  useEffect(() => {
    fetchComments(id).then(setComments);
  }, [id]);

  return (
    <ul className="comments">
      {comments.map((comment) => (
        <li key={comment.id}>
          <strong>{formatAuthor(comment.author)}</strong>
          <div className="comment-body" dangerouslySetInnerHTML={{ __html: comment.body }} />
        </li>
      ))}
    </ul>
  );
}
